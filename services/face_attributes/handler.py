"""Transport-free face attributes: one aligned crop in, every installed part's answer out.

Parts sharing a model and a framing share one inference; the distinct inferences run
concurrently, each through its model's dynamic batcher (so the crops of concurrent requests
share batches). A part whose model is missing or fails carries its error while the others
answer; the call fails only for a bad crop or when no part answered at all.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.face_attributes.parts import EMBEDDING, PARTS, Framing, Part, active_parts
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.errors import XCloudError
from services.runtime.face_crops import check_face_crop
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool
from services.runtime.repository import ModelCard

SAME_PERSON_DISTANCE = 0.6  # face-api's threshold, for an embedding model whose card states none


@dataclass(frozen=True)
class PartOutcome:
    part: str
    model: str
    version: str = ""
    value: Any = None               # the decoded answer (parts.Age, parts.Gender, ...)
    error: XCloudError | None = None


@dataclass(frozen=True)
class Attributes:
    parts: list[PartOutcome]  # one per attribute, in part-table order

    def answered(self) -> list[PartOutcome]:
        return [p for p in self.parts if p.error is None]


@dataclass(frozen=True)
class Embedding:
    values: np.ndarray  # (128,) float32
    same_person_distance: float
    model: str
    version: str


def labels_of(card: ModelCard, output: str) -> list[str]:
    """The card's labels of one output (cards key them by output name)."""
    return list(card.card.get("labels", {}).get(output, []))


class FaceAttributesHandler:
    def __init__(self, settings: FaceAttributesSettings, pool: ModelPool,
                 parts: Sequence[Part] = PARTS, embedding: Part = EMBEDDING):
        self._settings = settings
        self._pool = pool
        self.parts = tuple(parts)
        self.embedding = embedding

    def check_parts(self) -> None:
        """Refuse to serve a model the part table would feed or read wrongly (checked at start)."""
        for part in (*self.parts, self.embedding):
            if part.model in self._pool.models:
                _check_part(part, self._pool.models[part.model])

    async def predict(self, crop: np.ndarray, deadline: float | None = None) -> Attributes:
        self.check_crop(crop)
        parts = active_parts(self.parts, self._pool.models)
        views = list(dict.fromkeys((p.model, p.framing) for p in parts
                                   if p.model in self._pool.models))
        runs = await asyncio.gather(*(self._infer(m, f, crop, deadline) for m, f in views),
                                    return_exceptions=True)
        by_view = dict(zip(views, runs))
        result = Attributes([self._outcome(p, by_view.get((p.model, p.framing))) for p in parts])
        if not result.answered():
            raise next(o.error for o in result.parts if o.error is not None)
        return result

    async def embed(self, crop: np.ndarray, deadline: float | None = None) -> Embedding:
        self.check_crop(crop)
        part = self.embedding
        outputs = await self._infer(part.model, part.framing, crop, deadline)
        model = self._pool.model(part.model)
        values = part.decode(outputs[part.output], labels_of(model.card, part.output))
        threshold = float(model.card.card.get("same_person_distance", SAME_PERSON_DISTANCE))
        return Embedding(values, threshold, model.name, model.version)

    def check_crop(self, crop: np.ndarray) -> None:
        check_face_crop(crop, self._settings.min_crop_side, self._settings.max_crop_side)

    async def _infer(self, model: str, framing: Framing, crop: np.ndarray,
                     deadline: float | None) -> dict[str, np.ndarray]:
        """The model's outputs for the crop at ``framing``, by output name, batch axis dropped."""
        loaded = self._pool.model(model)
        with timed_stage("preprocess", loaded.name, loaded.version):
            view = reframe(crop, SHARED_CROP_MARGIN, framing.margin, framing.size)
            rows = view.transpose(2, 0, 1)[None].astype(np.float32)
        outputs = await self._pool.infer(model, rows, deadline)
        return {name: output[0] for name, output in zip(loaded.output_names, outputs)}

    def _outcome(self, part: Part, run: dict[str, np.ndarray] | BaseException | None) -> PartOutcome:
        """``run`` is the part's inference: outputs, its error, or None when it never ran."""
        try:
            model = self._pool.model(part.model)
        except XCloudError as error:  # not installed: this part says so, the others answer
            return PartOutcome(part.name, part.model, error=error)
        if isinstance(run, XCloudError):
            return PartOutcome(part.name, part.model, model.version, error=run)
        if isinstance(run, BaseException):
            raise run  # a bug, not a part's status: the interceptor logs it
        with timed_stage("postprocess", model.name, model.version):
            value = part.decode(run[part.output], labels_of(model.card, part.output))
        return PartOutcome(part.name, model.name, model.version, value)


def _check_part(part: Part, model) -> None:
    shape = model.session.get_inputs()[0].shape
    side = part.framing.size
    if list(shape[1:]) != [3, side, side]:
        raise RuntimeError(f"{part.name}: model {part.model} takes {shape}, but the part table "
                           f"feeds it 3x{side}x{side}")
    if part.output not in model.output_names:
        raise RuntimeError(f"{part.name}: model {part.model} has no output {part.output!r} "
                           f"(it has {model.output_names})")
    framing = model.card.card.get("preprocessing", {}).get("framing")
    stated = framing.get("margin") if isinstance(framing, dict) else None  # trained heads state it
    if stated is not None and abs(float(stated) - part.framing.margin) > 1e-6:
        raise RuntimeError(f"{part.name}: model {part.model} was trained at margin {stated}, "
                           f"but the part table cuts margin {part.framing.margin}")
