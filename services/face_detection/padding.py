"""A second look at an image where the detector found no face: a bordered copy of it.

MTCNN needs background around a face: on a chip cut to the face (UTKFace's chin-to-hairline
crops, LFW's forehead-to-chin ones, a selfie's close-up) its box regression runs off the image
and the face is lost. Detecting again on the image bordered by a share of its side finds most
of them (figures: docs/models.md, measured by benchmarks/detection_padding.py).
The faces found are mapped back to the original image and clipped to it, so a caller never
sees the border's coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

# Repeating the edge pixels found more faces than a black border on the faces the detector
# misses (UTKFace: 39 of 63 against 30 at a 10 % border; SCUT-FBP5500 and LFW: about even).
BORDER = cv2.BORDER_REPLICATE
# The second look is for a face that fills the image, so it asks for faces of at least this
# share of the image's shorter side: the faces it recovered were 0.44-1.8 of the side, while
# the false faces it added on flowers17 were mostly below 0.2 of it.
FILL_SHARE = 0.4
# A face filling an image this large is still hundreds of pixels, far above the 48 px that
# O-Net sees: larger images are downscaled for the second look, which bounds its time and
# memory (a 40 Mpx image without a face would otherwise be detected again at 2.25x its size).
MAX_SIDE = 512


@dataclass(frozen=True)
class Framing:
    """How the bordered copy was made from the original: scaled by ``scale``, then bordered
    by ``left`` and ``top`` pixels on each side."""

    scale: float
    left: int
    top: int
    width: int   # the original's size
    height: int


def bordered(rgb: np.ndarray, share: float) -> tuple[np.ndarray, Framing]:
    """The image (downscaled to ``MAX_SIDE`` if larger) with a border of ``share`` of its side."""
    height, width = rgb.shape[:2]
    scale = min(1.0, MAX_SIDE / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    top, left = round(rgb.shape[0] * share), round(rgb.shape[1] * share)
    framed = cv2.copyMakeBorder(rgb, top, top, left, left, BORDER)
    return framed, Framing(scale, left, top, width, height)


def retry_params(params: Any, framing: Framing) -> Any:
    """The detector's params for the bordered copy: only a face that fills the original."""
    fill = FILL_SHARE * min(framing.width, framing.height)
    return replace(params, min_face_size=max(params.min_face_size, fill) * framing.scale)


def to_original(detection: Any, framing: Framing) -> Any:
    """A detection on the bordered copy in the original's pixels (not yet clipped: the
    aligned crop is cut from the true landmarks, black beyond the image's edge)."""
    offset = np.array([framing.left, framing.top], np.float32)
    landmarks = (detection.landmarks - offset) / np.float32(framing.scale)
    box = (detection.box - np.tile(offset, 2)) / np.float32(framing.scale)
    return replace(detection, box=box.astype(np.float32), landmarks=landmarks.astype(np.float32))


def clipped(face: Any, width: int, height: int) -> Any:
    """``face`` with its box and landmarks clipped to a ``width`` x ``height`` image."""
    box = np.clip(face.box, 0, [width, height, width, height]).astype(np.float32)
    landmarks = np.clip(face.landmarks, 0, [width, height]).astype(np.float32)
    return replace(face, box=box, landmarks=landmarks)
