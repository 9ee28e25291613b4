"""Transport-free expression classification: one aligned crop in, 7 probabilities out."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.expression.settings import ExpressionSettings
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.face_crops import check_face_crop
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
        self.check_crop(crop)
        model = self._pool.model(self._settings.model)
        with timed_stage("preprocess", model.name, model.version):
            view = reframe(crop, SHARED_CROP_MARGIN, self._settings.margin, self.input_side())
            rows = view.transpose(2, 0, 1)[None].astype(np.float32)
        (probabilities,) = await self._pool.infer(model.name, rows, deadline)
        with timed_stage("postprocess", model.name, model.version):
            labels = model.card.card.get("labels", {}).get("probabilities", LABELS)
            scores = probabilities[0]
            best = int(np.argmax(scores))
            pairs = tuple((str(k), float(p)) for k, p in zip(labels, scores))
        return ExpressionOutcome(str(labels[best]), float(scores[best]), pairs, model.name, model.version)

    def check_crop(self, crop: np.ndarray) -> None:
        check_face_crop(crop, self._settings.min_crop_side, self._settings.max_crop_side)
