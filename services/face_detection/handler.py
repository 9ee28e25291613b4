"""Transport-free face detection: bytes or pixels in, faces (box, score, landmarks, crop) out."""
from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from services.face_detection import blazeface, padding
from services.face_detection.budget import PixelBudget
from services.face_detection.mtcnn import Infer, MtcnnDetector, MtcnnParams
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.alignment import align_face
from services.runtime.errors import InvalidInput, ModelNotInstalled, quoted
from services.runtime.imaging import ImageLimits, decode_image, image_size
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool
from xcloud import names

MTCNN_PARTS = names.MTCNN


@dataclass(frozen=True)
class Detector:
    """A detector the service offers: the models it runs, how it is made and parametrised."""

    parts: tuple[str, ...]
    make: Callable[[Infer], Any]  # -> an object with ``async detect(rgb, params)``
    params: type  # its params dataclass (min_face_size, score_threshold, max_faces)
    default_score_threshold: Callable[[FaceDetectionSettings], float]


DETECTORS = {
    "mtcnn": Detector(MTCNN_PARTS, MtcnnDetector, MtcnnParams, lambda s: s.score_threshold),
    # Named after its one model. Its scores are calibrated lower than O-Net's probability
    # (see blazeface.py).
    blazeface.MODEL: Detector((blazeface.MODEL,), blazeface.BlazeFaceDetector,
                              blazeface.BlazeFaceParams,
                              lambda s: blazeface.DEFAULT_SCORE_THRESHOLD),
}
MODELS = [part for detector in DETECTORS.values() for part in detector.parts]
MIN_FACE_RANGE = (10.0, 10_000.0)  # below 10 px the pyramid would upscale the image many times
MAX_MARGIN = 0.9  # beyond this the face shrinks to a few pixels of the crop
# The detector calls back into the pool several times per image; the caller's deadline rides
# along in a context variable so the batcher can drop work nobody waits for.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


@dataclass(frozen=True)
class DetectParams:
    """Per-request options; zero means "use the service default"."""

    model: str = ""
    min_face_size: float = 0.0
    score_threshold: float = 0.0
    max_faces: int = 0
    aligned_size: int = 0
    aligned_margin: float = 0.0


@dataclass(frozen=True)
class Plan:
    """One call's parameters, resolved once: the options with defaults filled in, the
    detector's own params, and the version of the models that will answer."""

    params: DetectParams
    detector_params: Any  # the detector's params dataclass (Detector.params)
    version: str

    @property
    def model(self) -> str:
        return self.params.model


@dataclass(frozen=True)
class DetectedFace:
    box: np.ndarray        # x1, y1, x2, y2 in original-image pixels
    score: float
    landmarks: np.ndarray  # (5, 2), subject's left eye, right eye, nose, mouth left, mouth right
    aligned: np.ndarray | None = None


@dataclass(frozen=True)
class DetectionResult:
    faces: list[DetectedFace]
    width: int
    height: int
    model: str
    version: str


class FaceDetectionHandler:
    def __init__(self, settings: FaceDetectionSettings, pool: ModelPool):
        self._settings = settings
        self._pool = pool
        self._detectors = {name: d.make(self._infer) for name, d in DETECTORS.items()}
        self._limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels)
        self.budget = PixelBudget(settings.detection_pixel_budget)

    async def _infer(self, model: str, rows: np.ndarray) -> list[np.ndarray]:
        return await self._pool.infer(model, rows, _DEADLINE.get())

    def resolve(self, params: DetectParams) -> DetectParams:
        """Fill defaults and reject options no detector can honour."""
        s = self._settings
        params = replace(
            params,
            model=params.model or s.default_model,
            min_face_size=params.min_face_size or s.min_face_size,
            max_faces=params.max_faces or s.max_faces_limit,
        )
        _check_options(params, s)
        default_score = DETECTORS[params.model].default_score_threshold(s)
        return replace(params, score_threshold=params.score_threshold or default_score)

    def plan(self, params: DetectParams) -> Plan:
        """``params`` resolved (``resolve``), its detector checked installed, once per call."""
        params = self.resolve(params)
        self._require_installed(params.model)
        return Plan(params, _detector_params(params), self.version(params.model))

    async def detect(self, image: bytes, params: DetectParams, deadline: float | None = None
                     ) -> DetectionResult:
        plan = self.plan(params)
        width, height = image_size(image, self._limits)  # the header only: nothing decoded yet
        with self.budget.hold(width * height):
            with timed_stage("preprocess", plan.model, plan.version):
                rgb = await asyncio.to_thread(decode_image, image, self._limits)
            return await self._detect(rgb, plan, deadline)

    async def detect_pixels(self, rgb: np.ndarray, params: DetectParams,
                            deadline: float | None = None) -> DetectionResult:
        """Detect on already-decoded RGB (evaluation and benchmarks enter here)."""
        plan = self.plan(params)
        with self.budget.hold(rgb.shape[0] * rgb.shape[1]):
            return await self._detect(rgb, plan, deadline)

    async def _detect(self, rgb: np.ndarray, plan: Plan, deadline: float | None) -> DetectionResult:
        token = _DEADLINE.set(deadline)
        try:
            found, second = await self._find(rgb, plan)
        finally:
            _DEADLINE.reset(token)
        with timed_stage("postprocess", plan.model, plan.version):
            # Aligning many faces of a large image is CPU work: not on the event loop.
            faces = await asyncio.to_thread(_all_faces, rgb, found, second, plan.params)
        height, width = rgb.shape[:2]
        return DetectionResult(faces, width, height, plan.model, plan.version)

    async def _find(self, rgb: np.ndarray, plan: Plan) -> tuple[list, list]:
        """The detector's faces, and where they are none or one fills the image, a second look
        at a bordered copy (padding.py): (first-look faces kept, second-look faces)."""
        detector = self._detectors[plan.model]
        found = await detector.detect(rgb, plan.detector_params)
        share = self._settings.tight_face_pad_share
        if not share or not padding.needs_second_look(found, *rgb.shape[:2]):
            return found, []
        # The copy is at most (1 + 2 share)^2 times a small image or a MAX_SIDE one: it runs
        # inside the original's pixel-budget hold without one of its own.
        framed, framing = await asyncio.to_thread(padding.bordered, rgb, share)
        again = await detector.detect(framed, padding.retry_params(plan.detector_params, framing))
        again = [padding.to_original(d, framing) for d in again]
        return padding.not_seen_again(found, again), again

    def version(self, detector: str) -> str:
        versions = {self._pool.model(part).version for part in DETECTORS[detector].parts}
        return "+".join(sorted(versions))

    def _require_installed(self, detector: str) -> None:
        missing = [p for p in DETECTORS[detector].parts if p not in self._pool.models]
        if missing:
            raise ModelNotInstalled(
                f"detector {detector} is not installed (missing {', '.join(missing)}); "
                "build it with `make models`"
            )


def _check_options(params: DetectParams, settings: FaceDetectionSettings) -> None:
    if params.model not in DETECTORS:
        raise InvalidInput(f"unknown detector {quoted(params.model)}; "
                           f"choose one of {sorted(DETECTORS)}")
    low, high = MIN_FACE_RANGE
    if not low <= params.min_face_size <= high:
        raise InvalidInput(f"min_face_size must be between {low:g} and {high:g} pixels")
    if not 0.0 <= params.score_threshold <= 1.0:
        raise InvalidInput("score_threshold must be between 0 and 1")
    if params.max_faces < 0:
        raise InvalidInput("max_faces must not be negative")
    if not 0 <= params.aligned_size <= settings.max_aligned_size:
        raise InvalidInput(f"aligned_size must be between 0 and {settings.max_aligned_size}")
    if not 0.0 <= params.aligned_margin < MAX_MARGIN:
        raise InvalidInput(f"aligned_margin must be at least 0 and below {MAX_MARGIN}")


def _detector_params(params: DetectParams) -> Any:
    return DETECTORS[params.model].params(
        min_face_size=params.min_face_size,
        score_threshold=params.score_threshold,
        max_faces=params.max_faces,
    )


def _all_faces(rgb: np.ndarray, found, second, params: DetectParams) -> list[DetectedFace]:
    """Both looks' faces, highest score first; the second look's clipped to the image (a face
    filling it has a box running past its edges)."""
    height, width = rgb.shape[:2]
    size, margin = params.aligned_size, params.aligned_margin
    faces = _to_faces(rgb, found, size, margin) + [
        padding.clipped(face, width, height) for face in _to_faces(rgb, second, size, margin)]
    return sorted(faces, key=lambda face: -face.score)[: params.max_faces or None]


def _to_faces(rgb: np.ndarray, found, aligned_size: int, margin: float) -> list[DetectedFace]:
    return [_to_face(rgb, d, aligned_size, margin) for d in found]


def _to_face(rgb: np.ndarray, detection, aligned_size: int, margin: float) -> DetectedFace:
    aligned = align_face(rgb, detection.landmarks, aligned_size, margin) if aligned_size else None
    return DetectedFace(detection.box, float(detection.score), detection.landmarks, aligned)
