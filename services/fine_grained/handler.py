"""Transport-free fine-grained classification: image in, top-k labels with probabilities out."""
from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from services.fine_grained.preprocess import preprocess
from services.fine_grained.settings import FineGrainedSettings
from services.runtime.errors import InvalidInput
from services.runtime.imaging import MIN_SIDE, ImageLimits, decode_image
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool

Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in image pixels
PROBABILITIES = "probabilities"  # the classifiers' output, named in their model cards


@dataclass(frozen=True)
class ClassifyParams:
    """Per-request options; empty / zero means "use the service default"."""

    model: str = ""
    top_k: int = 0
    box: Box | None = None


@dataclass(frozen=True)
class Label:
    name: str
    index: int
    probability: float


@dataclass(frozen=True)
class ClassifyResult:
    labels: list[Label]
    model: str
    version: str


class FineGrainedHandler:
    def __init__(self, settings: FineGrainedSettings, pool: ModelPool):
        self._settings = settings
        self._pool = pool
        self._limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels)

    def resolve(self, params: ClassifyParams) -> ClassifyParams:
        """Fill defaults and reject options no model can honour."""
        params = replace(params, model=params.model or self._settings.default_model,
                         top_k=params.top_k or self._settings.default_top_k)
        if params.model not in self._settings.models:
            raise InvalidInput(
                f"unknown model {params.model!r}; this server serves {self._settings.models}"
            )
        if params.top_k < 0:
            raise InvalidInput("top_k must not be negative (0 = the service default)")
        return params

    async def classify(
        self, image: bytes, params: ClassifyParams, deadline: float | None = None
    ) -> ClassifyResult:
        return await self._classify(lambda: decode_image(image, self._limits), params, deadline)

    async def classify_pixels(
        self, rgb: np.ndarray, params: ClassifyParams, deadline: float | None = None
    ) -> ClassifyResult:
        """Classify already-decoded RGB (evaluation and benchmarks enter here)."""
        return await self._classify(lambda: rgb, params, deadline)

    async def _classify(
        self, pixels: Callable[[], np.ndarray], params: ClassifyParams, deadline: float | None
    ) -> ClassifyResult:
        params = self.resolve(params)
        model = self._pool.model(params.model)  # not installed: fail before decoding
        with timed_stage("preprocess", model.name, model.version):
            row = await asyncio.to_thread(_prepare, pixels, params.box)
        (probabilities,) = await self._pool.infer(model.name, row, deadline)
        with timed_stage("postprocess", model.name, model.version):
            names = model.card.labels_of(PROBABILITIES)
            labels = top_labels(probabilities[0], params.top_k, names)
        return ClassifyResult(labels, model.name, model.version)


def _prepare(pixels: Callable[[], np.ndarray], box: Box | None) -> np.ndarray:
    """Decode (or take) the pixels, crop the box, and make the model's input row."""
    rgb = pixels()
    return preprocess(rgb if box is None else crop_box(rgb, box))


def top_labels(probabilities: np.ndarray, k: int, names: list[str]) -> list[Label]:
    """The k most probable classes, most probable first; unnamed classes get their index."""
    k = min(k, len(probabilities))
    best = np.argpartition(-probabilities, k - 1)[:k]
    best = best[np.argsort(-probabilities[best], kind="stable")]
    return [
        Label(names[i] if i < len(names) else f"class_{i}", int(i), float(probabilities[i]))
        for i in best
    ]


def crop_box(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The box's pixels, clipped to the image; refused when too little of it is left."""
    if not all(math.isfinite(v) for v in box):
        raise InvalidInput("box coordinates must be finite numbers")
    h, w = rgb.shape[:2]
    x0, y0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x1, y1 = min(w, math.ceil(box[2])), min(h, math.ceil(box[3]))
    if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
        raise InvalidInput(
            f"box {list(box)} clipped to the {w}x{h} image leaves {max(0, x1 - x0)}x"
            f"{max(0, y1 - y0)} pixels; both sides must be at least {MIN_SIDE}"
        )
    return rgb[y0:y1, x0:x1]
