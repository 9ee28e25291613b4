"""Images to embeddings, per collection kind; each kind fixes its model and its payload.

FACE collections take the aligned face crops the gateway (or FaceDetection with
``aligned_margin`` = SHARED_CROP_MARGIN) produces, and warp them into the framing the face
model was trained on; GENERIC collections take encoded images and use the ImageNet centre crop;
ANIMAL collections take encoded images (optionally with the animal's box), squash the crop to
the animal model's input and also describe it by SIFT keypoints for re-ranking (keypoints.py).
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import cv2
import numpy as np

from services.animal_identity import animal_preprocess, keypoints
from services.animal_identity.keypoints import LocalFeatures
from services.animal_identity.rerank import Fusion
from services.animal_identity.settings import AnimalIdentitySettings
from services.fine_grained.preprocess import preprocess as imagenet_preprocess
from services.runtime.alignment import (
    SHARED_CROP_MARGIN,
    reframe,
    similarity_transform,
    template_for,
)
from services.runtime.card import Identity
from services.runtime.errors import InvalidInput, ModelNotInstalled
from services.runtime.imaging import ImageLimits, decode_image, rgb_from_raw
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool

FACE, GENERIC, ANIMAL = "face", "generic", "animal"
Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in image pixels
MIN_FACE_SIDE = 32  # below this the crop holds too little of the face to describe it
MIN_ANIMAL_SIDE = 16  # opencows2020 keeps crops from 32 px; a box thinner than this is a mistake
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
    boxes: tuple[Box | None, ...] = ()  # ANIMAL only: the animal in each image (None: whole)

    def __len__(self) -> int:
        return len(self.images) + len(self.faces)


@dataclass(frozen=True)
class KindSpec:
    kind: str
    model: str
    threshold: float | None  # None: the model card's calibrated ``identity.threshold``
    payload: str  # the Payload field this kind takes


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # (n, dimension) float32
    model: str
    version: str
    local: tuple[LocalFeatures, ...] = ()  # ANIMAL: each image's keypoints, in the same order


class Embedder:
    def __init__(self, settings: AnimalIdentitySettings, pool: ModelPool):
        self._settings = settings
        self._pool = pool
        self._limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels)
        self.kinds = {
            FACE: KindSpec(FACE, settings.face_model, settings.face_threshold, "faces"),
            GENERIC: KindSpec(GENERIC, settings.generic_model, settings.generic_threshold,
                              "images"),
            ANIMAL: KindSpec(ANIMAL, settings.animal_model, settings.animal_threshold, "images"),
        }

    def _identity_card(self, kind: str) -> Identity:
        return self._pool.model(self.kinds[kind].model).card.identity or Identity()

    def operating_point(self, kind: str, target_far: float | None) -> tuple[float, float]:
        """(threshold, FAR it was calibrated for) of a collection of ``kind`` that asked for
        ``target_far`` (None: the default: the threshold setting, else the card's; FAR 0 when
        the threshold is not calibrated by FAR). A rate the card does not list is refused."""
        if target_far is None:
            calibrated = self.kinds[kind].threshold is None
            far = self._identity_card(kind).target_far if calibrated else None
            return self.threshold(kind), float(far or 0.0)
        by_far = self._identity_card(kind).thresholds_by_far
        for listed, threshold in by_far.items():
            if math.isclose(float(listed), target_far, rel_tol=1e-6):
                return float(threshold), float(listed)
        choices = ", ".join(sorted(by_far, key=float)) or "none: use target_far 0"
        raise InvalidInput(f"target_far {target_far:g} is not calibrated for {kind} collections "
                           f"(model {self.kinds[kind].model}); choose one of: {choices}")

    def threshold(self, kind: str) -> float:
        """The served same-subject distance: the setting, else the model card's calibration."""
        spec = self.kinds[kind]
        if spec.threshold is not None:
            return spec.threshold
        calibrated = self._identity_card(kind).threshold
        if calibrated is None:
            raise ModelNotInstalled(f"model {spec.model} has no calibrated identity.threshold in "
                                    "its card; rebuild it "
                                    f"(python -m models.build --force {spec.model})")
        return float(calibrated)

    def score(self, kind: str, distance: float, threshold: float) -> float:
        """``Match.score``: the card's calibrated p(same subject | distance) at even odds
        (``identity.score``: 1 / (1 + exp(-(a + b * distance)))); without one, a linear
        stand-in that is 0.5 at the threshold."""
        curve = self._identity_card(kind).score
        if curve is None:
            return min(1.0, max(0.0, 1.0 - distance / (2.0 * threshold)))
        return float(1.0 / (1.0 + np.exp(-(curve.a + curve.b * distance))))

    def fusion(self, kind: str) -> Fusion | None:
        """The re-ranking fusion of the kind's model card, None for kinds without re-ranking."""
        found = self._identity_card(kind).fusion if kind == ANIMAL else None
        return None if found is None else Fusion(found.intercept, found.distance, found.inliers,
                                                 found.accept)

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
            rows, local = await asyncio.to_thread(self._rows, kind, payload)
        # One row per request lets the batcher merge them with other callers' rows.
        outputs = await asyncio.gather(*(self._pool.infer(name, row[None], deadline)
                                         for row in rows))
        vectors = np.concatenate([out[0] for out in outputs]).astype(np.float32)
        return Embeddings(vectors, name, version, local)

    def _rows(self, kind: str,
              payload: Payload) -> tuple[list[np.ndarray], tuple[LocalFeatures, ...]]:
        if kind == FACE:
            return [self._face_row(face) for face in payload.faces], ()
        if kind == ANIMAL:
            crops = [_animal_crop(decode_image(image, self._limits), box)
                     for image, box in zip(payload.images, _boxes_of(payload))]
            return ([animal_preprocess.preprocess(c)[0] for c in crops],
                    tuple(keypoints.extract(c) for c in crops))
        rows = [imagenet_preprocess(decode_image(image, self._limits))[0]
                for image in payload.images]
        return rows, ()

    def _face_row(self, face: RawFace) -> np.ndarray:
        crop = rgb_from_raw(face.width, face.height, face.rgb, self._limits)
        if face.width != face.height or face.width < MIN_FACE_SIDE:
            raise InvalidInput(
                f"face crop is {face.width}x{face.height}; send the square aligned crop "
                f"(side >= {MIN_FACE_SIDE}) FaceDetection returns with aligned_margin "
                f"{SHARED_CROP_MARGIN}"
            )
        model = self._pool.model(self._settings.face_model)
        framing = model.card.preprocessing.framing
        if framing is not None:  # our identity head: the crop at the framing its card states
            chip = reframe(crop, SHARED_CROP_MARGIN, framing.margin, framing.size)
        else:  # face-api's descriptor: dlib's chip
            side = int(model.session.get_inputs()[0].shape[-1])
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


def _boxes_of(payload: Payload) -> tuple[Box | None, ...]:
    return payload.boxes or (None,) * len(payload.images)


def _animal_crop(rgb: np.ndarray, box: Box | None) -> np.ndarray:
    crop = animal_preprocess.crop_box(rgb, box)
    if min(crop.shape[:2]) < MIN_ANIMAL_SIDE:
        raise InvalidInput(f"the animal's box is {crop.shape[1]}x{crop.shape[0]} pixels inside the "
                           f"image; it must be at least {MIN_ANIMAL_SIDE} on each side")
    return crop


def _check_payload(spec: KindSpec, payload: Payload) -> None:
    if len(payload) == 0:
        raise InvalidInput(f"no {spec.payload} given: a {spec.kind} collection takes "
                           f"{spec.payload}")
    if payload.boxes and (spec.kind != ANIMAL or len(payload.boxes) != len(payload.images)):
        raise InvalidInput("boxes are for ANIMAL collections only, one per image (or none)")
    wrong = "images" if spec.payload == "faces" else "faces"
    if getattr(payload, wrong):
        wanted = ("aligned face crops (RawImage) from FaceDetection" if spec.kind == FACE
                  else "encoded images (JPEG, PNG, WebP)")
        raise InvalidInput(f"a {spec.kind} collection takes {wanted} in `{spec.payload}`, "
                           f"not `{wrong}`")
