"""The enrolment quality gate: is one detected face good enough to stand for its subject?

Three measures, each from what detection already returns (no extra model):

- inter-ocular distance, in pixels of the original image: how much detail the photo holds
  about the face, whatever the crop is later scaled to;
- sharpness: variance of the Laplacian of the aligned crop's face area (grey), the usual
  focus measure; a blurred or upscaled face has little high-frequency energy;
- yaw: the nose tip's offset from the eye midpoint along the eye axis, over the inter-ocular
  distance; 0 for a frontal face, growing as the head turns (its sign says which way).

The bounds were measured on lfw-identity and nuaa-identity (see docs/models.md, "Enrolment
quality gate", and ``python -m models.evaluation.face_quality``), not guessed.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from xcloud.v1 import common_pb2, gateway_pb2


@dataclass(frozen=True)
class Bounds:
    min_inter_ocular_px: float
    min_sharpness: float
    max_abs_yaw: float


# The 1st percentile of inter-ocular distance (27.8 px) and sharpness (22.2) and the 99th of
# |yaw| (0.377) over 300 good-quality faces (150 lfw-identity, 150 nuaa-identity), rounded
# outwards: each bound refuses about 1 % of such photos (docs/models.md).
BOUNDS = Bounds(min_inter_ocular_px=27.0, min_sharpness=22.0, max_abs_yaw=0.38)


@dataclass(frozen=True)
class Measures:
    inter_ocular_px: float
    sharpness: float
    yaw: float


def landmark_array(landmarks: common_pb2.Landmarks) -> np.ndarray:
    """(5, 2): subject's left eye, right eye, nose, mouth left, mouth right."""
    points = (landmarks.left_eye, landmarks.right_eye, landmarks.nose,
              landmarks.mouth_left, landmarks.mouth_right)
    return np.array([[p.x, p.y] for p in points], np.float64)


def crop_pixels(crop: common_pb2.RawImage) -> np.ndarray:
    return np.frombuffer(crop.rgb, np.uint8).reshape(crop.height, crop.width, 3)


def measure(landmarks: np.ndarray, crop: np.ndarray, margin: float) -> Measures:
    """The three measures of one face; ``crop`` is its aligned RGB crop at ``margin``."""
    left, right, nose = landmarks[0], landmarks[1], landmarks[2]
    axis = left - right  # points to the image's right for an upright frontal face
    distance = float(np.hypot(*axis))
    if distance <= 0:
        return Measures(0.0, sharpness(crop, margin), 0.0)
    offset = float(np.dot(nose - (left + right) / 2, axis / distance))
    return Measures(distance, sharpness(crop, margin), offset / distance)


def sharpness(crop: np.ndarray, margin: float) -> float:
    """Variance of the Laplacian over the face template's square (the context left out:
    background and hair say nothing about the face's focus)."""
    side = crop.shape[0]
    inset = round(side * margin / 2)
    face = crop[inset:side - inset, inset:side - inset]
    grey = cv2.cvtColor(np.ascontiguousarray(face), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def problems(found: Measures, bounds: Bounds = BOUNDS) -> list[str]:
    """Why the face is not reliable, each reason with what to do about it; empty when it is."""
    reasons = []
    if found.inter_ocular_px < bounds.min_inter_ocular_px:
        reasons.append(f"face too small: inter-ocular distance {found.inter_ocular_px:.0f} px "
                       f"< {bounds.min_inter_ocular_px:.0f} px; use a larger or closer photo")
    if found.sharpness < bounds.min_sharpness:
        reasons.append(f"face too blurred: sharpness (variance of the Laplacian) "
                       f"{found.sharpness:.1f} < {bounds.min_sharpness:g}; use a sharper, "
                       "in-focus photo")
    if abs(found.yaw) > bounds.max_abs_yaw:
        reasons.append(f"face not frontal enough: yaw {found.yaw:+.2f} (nose offset over "
                       f"inter-ocular distance) beyond ±{bounds.max_abs_yaw:g}; use a photo "
                       "facing the camera")
    return reasons


def to_proto(found: Measures, bounds: Bounds = BOUNDS) -> gateway_pb2.FaceQuality:
    reasons = problems(found, bounds)
    return gateway_pb2.FaceQuality(
        inter_ocular_px=found.inter_ocular_px, sharpness=found.sharpness, yaw=found.yaw,
        reliable=not reasons, reason="; ".join(reasons),
    )
