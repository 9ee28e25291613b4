"""Transport-free face attributes: aligned crops in (every face of an image, the batch axis),
every installed part's answer and, when asked, the embedding out, per face in crop order.

Parts (and the embedding) sharing a model and a framing share one inference: with the shared
trunk installed that is one inference for everything. Each distinct inference takes every
face of the call as rows of one block (twice as many with their mirror images in the
accurate mode), through its model's dynamic batcher, which also merges them with concurrent
calls. A part whose model is missing or fails carries its error while the others answer; the
call fails only for a bad crop or when nothing answered at all.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.face_attributes.parts import EMBEDDINGS, PARTS, Framing, Part, active_parts
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.errors import XCloudError
from services.runtime.face_crops import (
    check_face_crops,
    infer_rows,
    mean_embedding_of_mirrors,
    mean_of_mirrors,
    with_mirrors,
)
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool
from services.runtime.repository import ModelCard

SAME_PERSON_DISTANCE = 0.6  # face-api's threshold, for an embedding model whose card states none
Run = dict[str, np.ndarray] | BaseException | None  # one view's outputs (faces first) or why not


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
    values: np.ndarray  # (D,) float32
    same_person_distance: float
    model: str
    version: str


@dataclass(frozen=True)
class FacesAnswer:
    """One call's answer, per face in crop order."""

    attributes: list[Attributes]  # empty when attributes were not asked for
    embeddings: list[Embedding]   # empty when not asked for, or when embedding_error says why
    embedding_error: XCloudError | None = None


def same_person_distance(card: ModelCard) -> float:
    """The card's identity threshold (face_embedding_xcloud states ``identity.threshold``;
    face-api's card ``same_person_distance``), else face-api's published 0.6."""
    if card.identity is not None and card.identity.threshold is not None:
        return card.identity.threshold
    return card.same_person_distance if card.same_person_distance is not None \
        else SAME_PERSON_DISTANCE


class FaceAttributesHandler:
    def __init__(self, settings: FaceAttributesSettings, pool: ModelPool,
                 parts: Sequence[Part] = PARTS, embedding: Part | Sequence[Part] = EMBEDDINGS):
        self._settings = settings
        self._pool = pool
        self.parts = tuple(parts)
        self.embeddings = (embedding,) if isinstance(embedding, Part) else tuple(embedding)

    def check_parts(self) -> None:
        """Refuse to serve a model the part table would feed or read wrongly (checked at start)."""
        for part in (*self.parts, *self.embeddings):
            if part.model in self._pool.models:
                _check_part(part, self._pool.models[part.model])

    async def predict(self, crop: np.ndarray, deadline: float | None = None,
                      accurate: bool = False) -> Attributes:
        """One face's attributes (the single-face API)."""
        return (await self.analyze([crop], accurate=accurate, deadline=deadline)).attributes[0]

    async def embed(self, crop: np.ndarray, deadline: float | None = None,
                    accurate: bool = False) -> Embedding:
        """One face's embedding (the single-face API)."""
        answer = await self.analyze([crop], attributes=False, embedding=True,
                                    accurate=accurate, deadline=deadline)
        return answer.embeddings[0]

    async def analyze(self, crops: Sequence[np.ndarray], *, attributes: bool = True,
                      embedding: bool = False, accurate: bool = False,
                      deadline: float | None = None) -> FacesAnswer:
        """Attributes and/or embeddings of every crop; one inference per distinct view."""
        self.check_crops(crops)
        if not crops:
            return FacesAnswer([], [])
        installed = self._pool.models
        parts = active_parts(self.parts, installed) if attributes else ()
        embed = active_parts(self.embeddings, installed)[0] if embedding else None
        wanted = [*parts, *([embed] if embed else [])]
        views = list(dict.fromkeys((p.model, p.framing) for p in wanted if p.model in installed))
        embed_view = (embed.model, embed.framing) if embed else None
        runs = await asyncio.gather(
            *(self._infer(m, f, crops, accurate, deadline,
                          {embed.output} if (m, f) == embed_view else set()) for m, f in views),
            return_exceptions=True)
        by_view: dict[tuple[str, Framing], Run] = dict(zip(views, runs))
        results = [Attributes([self._outcome(p, by_view.get((p.model, p.framing)), i)
                               for p in parts]) for i in range(len(crops))]
        if embed is None:
            return _answered(FacesAnswer(results, []), attributes, embedding)
        found, error = self._embeddings(embed, by_view.get((embed.model, embed.framing)))
        return _answered(FacesAnswer(results, found, error), attributes, embedding)

    def check_crops(self, crops: Sequence[np.ndarray]) -> None:
        check_face_crops(crops, self._settings.min_crop_side, self._settings.max_crop_side)

    async def _infer(self, model: str, framing: Framing, crops: Sequence[np.ndarray],
                     accurate: bool, deadline: float | None,
                     vectors: set[str]) -> dict[str, np.ndarray]:
        """The model's outputs for every crop at ``framing``, by output name, one row per crop
        (in the accurate mode the mean of the crop and its mirror image; ``vectors`` names
        the embedding outputs, averaged at their norm)."""
        loaded = self._pool.model(model)
        with timed_stage("preprocess", loaded.name, loaded.version):
            rows = np.stack([reframe(c, SHARED_CROP_MARGIN, framing.margin, framing.size)
                             .transpose(2, 0, 1) for c in crops]).astype(np.float32)
            rows = with_mirrors(rows) if accurate else rows
        outputs = await infer_rows(self._pool, model, rows, self._chunk(loaded), deadline)
        named = dict(zip(loaded.output_names, outputs))
        if not accurate:
            return named
        return {name: mean_embedding_of_mirrors(out) if name in vectors else mean_of_mirrors(out)
                for name, out in named.items()}

    def _chunk(self, model) -> int:
        """Rows per batcher request: the batch size the model was warmed up to."""
        cap = model.card.serving.max_batch_size
        return min(self._settings.max_batch_size, cap) if cap else self._settings.max_batch_size

    def _outcome(self, part: Part, run: Run, face: int) -> PartOutcome:
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
            value = part.decode(run[part.output][face], model.card.labels_of(part.output))
        return PartOutcome(part.name, model.name, model.version, value)

    def _embeddings(self, part: Part, run: Run) -> tuple[list[Embedding], XCloudError | None]:
        try:
            model = self._pool.model(part.model)
        except XCloudError as error:
            return [], error
        if isinstance(run, XCloudError):
            return [], run
        if isinstance(run, BaseException):
            raise run
        threshold = same_person_distance(model.card)
        labels = model.card.labels_of(part.output)
        return [Embedding(part.decode(row, labels), threshold, model.name, model.version)
                for row in run[part.output]], None


def _answered(answer: FacesAnswer, attributes: bool, embedding: bool) -> FacesAnswer:
    """The answer, unless nothing that was asked for answered: then the first error is the
    call's (a part's, else the embedding's)."""
    if attributes and answer.attributes and answer.attributes[0].answered():
        return answer
    if embedding and answer.embedding_error is None:
        return answer
    errors = [o.error for o in answer.attributes[0].parts if o.error] if answer.attributes else []
    raise (errors or [answer.embedding_error])[0] or XCloudError("the part table is empty")


def _check_part(part: Part, model) -> None:
    shape = model.session.get_inputs()[0].shape
    side = part.framing.size
    if list(shape[1:]) != [3, side, side]:
        raise RuntimeError(f"{part.name}: model {part.model} takes {shape}, but the part table "
                           f"feeds it 3x{side}x{side}")
    if part.output not in model.output_names:
        raise RuntimeError(f"{part.name}: model {part.model} has no output {part.output!r} "
                           f"(it has {model.output_names})")
    framing = model.card.preprocessing.framing  # our trained heads state theirs
    stated = framing.margin if framing is not None else None
    if stated is not None and abs(stated - part.framing.margin) > 1e-6:
        raise RuntimeError(f"{part.name}: model {part.model} was trained at margin {stated}, "
                           f"but the part table cuts margin {part.framing.margin}")
