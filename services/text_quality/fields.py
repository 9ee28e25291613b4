"""The 23 ZhihuLiveDB fields the content-quality model reads, in the model's input order.

This order is the original study's ``features_23`` (protocol.txt): the model's input column i
is ``FIELDS[i]``, and the model card lists the same names. Ranges are what a caller may send:
flags and codes take the values the data set holds, counts are non-negative, and
``review_count`` starts at 11 because the study (and so the model) only covers Lives with at
least 11 reviews; a score for a thinner record would be an extrapolation we cannot vouch for.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.runtime.errors import InvalidInput

CEILING = 1e9  # far beyond any real Live; keeps float32 inputs finite and meaningful
MAX_REPORTED = 10  # problems listed in one error message; the rest are counted


@dataclass(frozen=True)
class FieldSpec:
    name: str
    low: float
    high: float = CEILING
    note: str = ""  # why the range is what it is, appended to the error message


def _flag(name: str) -> FieldSpec:
    return FieldSpec(name, 0, 1)


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("duration", 1, note="seconds"),
    FieldSpec("reply_message_count", 0),
    FieldSpec("source", 0, 1),
    _flag("purchasable"),
    _flag("is_refundable"),
    _flag("has_authenticated"),
    FieldSpec("user_type", 0, 1),
    FieldSpec("gender", 0, 1),
    FieldSpec("badge", 0, 2),
    FieldSpec("speaker_audio_message_count", 0),
    FieldSpec("attachment_count", 0),
    FieldSpec("liked_num", 0),
    _flag("is_commercial"),
    FieldSpec("audition_message_count", 0),
    _flag("is_audition_open"),
    FieldSpec("seats_taken", 0),
    FieldSpec("seats_max", 0),
    FieldSpec("speaker_message_count", 0),
    FieldSpec("amount", 0, note="fen"),
    FieldSpec("original_price", 0, note="yuan"),
    _flag("has_audition"),
    _flag("has_feedback"),
    FieldSpec("review_count", 11, note="the model covers Lives with at least 11 reviews"),
)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

# One record: field name -> value, None where the caller left the field unset.
Record = Mapping[str, float | None]


def problem(spec: FieldSpec, value: float | None) -> str | None:
    """Why ``value`` is unusable for ``spec``, or None when it is fine."""
    if value is None:
        return f"{spec.name} is missing"
    if not math.isfinite(value) or not spec.low <= value <= spec.high:
        note = f" ({spec.note})" if spec.note else ""
        return f"{spec.name} = {value:g} is outside [{spec.low:g}, {spec.high:g}]{note}"
    return None


def to_rows(records: Sequence[Record]) -> np.ndarray:
    """(n, 23) float32 model input; raises InvalidInput naming every bad record and field."""
    problems = [
        f"record {index}: {found}"
        for index, record in enumerate(records)
        for spec in FIELDS
        if (found := problem(spec, record.get(spec.name))) is not None
    ]
    if problems:
        more = len(problems) - MAX_REPORTED
        tail = f"; and {more} more" if more > 0 else ""
        raise InvalidInput("invalid content records: " + "; ".join(problems[:MAX_REPORTED]) + tail)
    return np.array([[record[name] for name in FIELD_NAMES] for record in records], np.float32)
