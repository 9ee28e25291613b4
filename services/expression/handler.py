"""Transport-free expression classification: aligned crops in (every face of an image, the batch
axis), 7 probabilities per face out, from one batched inference."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.expression.settings import ExpressionSettings
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.face_crops import check_face_crops, infer_rows
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool

# face-api's order; a model card's "labels.probabilities" overrides it
LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")


@dataclass(frozen=True)
class ExpressionOutcome:
    label: str
    probability: float
    probabilities: tuple[tuple[str, float], ...]  # every label, in the model's order
    model: str
    version: str


class ExpressionHandler:
    def __init__(self, settings: ExpressionSettings, pool: ModelPool):
        self._settings = settings
        self._pool = pool

    def input_side(self) -> int:
        """The model's square input side, from its declared input shape (N, 3, side, side)."""
        return int(self._pool.model(self._settings.model).session.get_inputs()[0].shape[2])

    async def classify(self, crop: np.ndarray, deadline: float | None = None) -> ExpressionOutcome:
        """One face (the single-face API)."""
        return (await self.classify_all([crop], deadline))[0]

    async def classify_all(self, crops: Sequence[np.ndarray],
                           deadline: float | None = None) -> list[ExpressionOutcome]:
        """Every crop's expression, in crop order: the faces are the rows of one block."""
        self.check_crops(crops)
        if not crops:
            return []
        model = self._pool.model(self._settings.model)
        with timed_stage("preprocess", model.name, model.version):
            side = self.input_side()
            rows = np.stack([reframe(c, SHARED_CROP_MARGIN, self._settings.margin, side)
                             .transpose(2, 0, 1) for c in crops]).astype(np.float32)
        (probabilities,) = await infer_rows(self._pool, model.name, rows,
                                            self._settings.max_batch_size, deadline)
        with timed_stage("postprocess", model.name, model.version):
            labels = model.card.labels_of("probabilities", default=LABELS)
            return [_outcome(scores, labels, model.name, model.version) for scores in probabilities]

    def check_crops(self, crops: Sequence[np.ndarray]) -> None:
        check_face_crops(crops, self._settings.min_crop_side, self._settings.max_crop_side)


def _outcome(scores: np.ndarray, labels: Sequence[str], model: str,
             version: str) -> ExpressionOutcome:
    best = int(np.argmax(scores))
    pairs = tuple((str(k), float(p)) for k, p in zip(labels, scores))
    return ExpressionOutcome(str(labels[best]), float(scores[best]), pairs, model, version)
