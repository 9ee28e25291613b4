"""Images to embeddings, per collection kind; each kind fixes its model and its payload.

FACE collections take the aligned face crops the gateway (or FaceDetection with
``aligned_margin`` = SHARED_CROP_MARGIN) produces, and warp them into the framing the face
model was trained on; GENERIC collections take encoded images and use the ImageNet centre crop.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import cv2
import numpy as np

from services.animal_identity.settings import AnimalIdentitySettings
from services.fine_grained.preprocess import preprocess as imagenet_preprocess
from services.runtime.alignment import SHARED_CROP_MARGIN, similarity_transform, template_for
from services.runtime.errors import InvalidInput
from services.runtime.imaging import ImageLimits, decode_image, rgb_from_raw
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool

FACE, GENERIC = "face", "generic"
MIN_FACE_SIDE = 32  # below this the crop holds too little of the face to describe it
# face-api's descriptor is dlib's ResNet, trained on dlib "face chips": faces aligned onto dlib's
# 5-point template (image_transforms/interpolation.h, get_face_chip_details) with padding around
# it. Its eye centres (means of the eye-corner points) and nose base, in the unpadded chip's
# unit square, in our landmark order: subject's left eye, right eye, nose. On 319 SCUT faces
# this framing put impostor pairs at a mean distance of 0.71 (dlib's published behaviour);
# re-cropping our aligned crop instead left them at 0.40-0.53, most below the 0.6 threshold.
DLIB_CHIP_POINTS = np.array([[0.7528, 0.2212], [0.2273, 0.2214], [0.4901, 0.6278]])


@dataclass(frozen=True)
class RawFace:
    """An aligned face crop as sent: decoded 8-bit RGB, row-major."""

    width: int
    height: int
    rgb: bytes


@dataclass(frozen=True)
class Payload:
    """What a caller sent to embed: encoded images or aligned face crops (one of the two)."""

    images: tuple[bytes, ...] = ()
    faces: tuple[RawFace, ...] = ()

    def __len__(self) -> int:
        return len(self.images) + len(self.faces)


@dataclass(frozen=True)
class KindSpec:
    kind: str
    model: str
    threshold: float
    payload: str  # the Payload field this kind takes


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # (n, dimension) float32
    model: str
    version: str


class Embedder:
    def __init__(self, settings: AnimalIdentitySettings, pool: ModelPool):
        self._settings = settings
        self._pool = pool
        self._limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels)
        self.kinds = {
            FACE: KindSpec(FACE, settings.face_model, settings.face_threshold, "faces"),
            GENERIC: KindSpec(GENERIC, settings.generic_model, settings.generic_threshold, "images"),
        }

    def model_of(self, kind: str) -> tuple[str, str, int]:
        """(name, version, dimension) of the model serving ``kind``; raises if not installed."""
        model = self._pool.model(self.kinds[kind].model)
        dimension = model.session.get_outputs()[0].shape[-1]
        return model.name, model.version, int(dimension)

    async def embed(self, kind: str, payload: Payload, deadline: float | None = None) -> Embeddings:
        spec = self.kinds[kind]
        _check_payload(spec, payload)
        name, version, _ = self.model_of(kind)
        with timed_stage("preprocess", name, version):
            rows = await asyncio.to_thread(self._rows, kind, payload)
        # One row per request lets the batcher merge them with other callers' rows.
        outputs = await asyncio.gather(*(self._pool.infer(name, row[None], deadline) for row in rows))
        vectors = np.concatenate([out[0] for out in outputs]).astype(np.float32)
        return Embeddings(vectors, name, version)

    def _rows(self, kind: str, payload: Payload) -> list[np.ndarray]:
        if kind == FACE:
            return [self._face_row(face) for face in payload.faces]
        return [imagenet_preprocess(decode_image(image, self._limits))[0] for image in payload.images]

    def _face_row(self, face: RawFace) -> np.ndarray:
        crop = rgb_from_raw(face.width, face.height, face.rgb, self._limits)
        if face.width != face.height or face.width < MIN_FACE_SIDE:
            raise InvalidInput(
                f"face crop is {face.width}x{face.height}; send the square aligned crop "
                f"(side >= {MIN_FACE_SIDE}) FaceDetection returns with aligned_margin "
                f"{SHARED_CROP_MARGIN}"
            )
        side = int(self._pool.model(self._settings.face_model).session.get_inputs()[0].shape[-1])
        chip = face_chip(crop, self._settings.face_chip_padding, side)
        # the face model takes raw 0..255 RGB, NCHW; its normalisation is inside the graph
        return np.ascontiguousarray(chip.transpose(2, 0, 1), dtype=np.float32)


def face_chip(crop: np.ndarray, padding: float, side: int) -> np.ndarray:
    """The dlib-style chip of an aligned crop made at SHARED_CROP_MARGIN."""
    # where our template put the eyes and nose in the crop (mouth corners: dlib has none)
    source = template_for(crop.shape[0], SHARED_CROP_MARGIN)[:3]
    target = (DLIB_CHIP_POINTS + padding) / (1.0 + 2.0 * padding) * side
    matrix = similarity_transform(source, target)
    interpolation = cv2.INTER_AREA if crop.shape[0] > side else cv2.INTER_LINEAR
    return cv2.warpAffine(crop, matrix, (side, side), flags=interpolation,
                          borderMode=cv2.BORDER_REPLICATE)


def _check_payload(spec: KindSpec, payload: Payload) -> None:
    if len(payload) == 0:
        raise InvalidInput(f"no {spec.payload} given: a {spec.kind} collection takes {spec.payload}")
    wrong = "images" if spec.payload == "faces" else "faces"
    if getattr(payload, wrong):
        wanted = ("aligned face crops (RawImage) from FaceDetection" if spec.kind == FACE
                  else "encoded images (JPEG, PNG, WebP)")
        raise InvalidInput(f"a {spec.kind} collection takes {wanted} in `{spec.payload}`, not `{wrong}`")
