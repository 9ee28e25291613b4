"""Protobuf <-> domain conversion for content quality (the only place that knows both)."""
from __future__ import annotations

from collections.abc import Iterable

from services.text_quality.fields import FIELD_NAMES, Record
from services.text_quality.handler import ScoreResult
from xcloud.v1 import common_pb2, text_quality_pb2


def record_from_proto(message: text_quality_pb2.ContentRecord) -> Record:
    """Field name -> value as a float (flags become 0/1), None where the caller left it unset."""
    return {
        name: float(getattr(message, name)) if message.HasField(name) else None
        for name in FIELD_NAMES
    }


def records_from_proto(messages: Iterable[text_quality_pb2.ContentRecord]) -> list[Record]:
    return [record_from_proto(m) for m in messages]


def record_to_proto(record: Record) -> text_quality_pb2.ContentRecord:
    """The message a client sends for ``record`` (clients, evaluation and tests use it)."""
    message = text_quality_pb2.ContentRecord()
    for name, value in record.items():
        if value is not None:
            field_type = type(getattr(message, name))
            setattr(message, name, field_type(value))
    return message


def result_to_proto(result: ScoreResult) -> text_quality_pb2.ScoreResponse:
    return text_quality_pb2.ScoreResponse(
        scores=[text_quality_pb2.ContentScore(review_score=float(s)) for s in result.scores],
        model=common_pb2.ModelInfo(name=result.model, version=result.version),
    )
