"""A second look at an image whose face fills it: detection again on a bordered copy.

MTCNN needs background around a face: on a chip cut to the face (UTKFace's chin-to-hairline
crops, LFW's forehead-to-chin ones, a close-up selfie) its box regression runs off the image,
the eyes land on the forehead, and some faces are not found at all. Where the first look finds
no face, or one that fills the image, the detector looks again at the image bordered by a share
of its side; its faces replace those they overlap. They are mapped back to the original image
and clipped to it, so a caller never sees the border's coordinates. Figures: docs/models.md,
from `python -m benchmarks.detection_padding`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from services.face_detection.nms import iou

# Repeating the edge pixels beat a black border: eye error 0.028 against 0.033 of the eye
# distance on SCUT-FBP5500 cut to its faces, and more of UTKFace's missed faces found.
BORDER = cv2.BORDER_REPLICATE
# A face whose box side is at least this share of the image's shorter side "fills" it: on
# SCUT-FBP5500 faces cut at several tightnesses, the eye error without a border grows from
# 0.027 below this size to 0.037 at 0.70-0.75 and 0.13 past 1.0, and a border brings every
# size back to 0.026-0.033. Below it a border changes nothing. 2 % of SCUT-FBP5500's photos
# and nearly all UTKFace and LFW chips reach it.
FILLING = 0.7
# The second look is only for a face that fills the image, so it asks for faces of at least
# this share of the shorter side: the faces it recovered were 0.44-1.8 of the side, the false
# faces a border added on flowers17 mostly below 0.2 of it (none are left at 0.4).
SMALLEST = 0.4
# A first-look face overlapping a second-look face by more than this is the same face.
SAME_FACE_IOU = 0.3
# A face filling an image this large is hundreds of pixels, far above the 48 px O-Net sees:
# larger images are downscaled for the second look, which bounds its time and memory.
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


def needs_second_look(found: Sequence[Any], height: int, width: int) -> bool:
    """No face found, or one filling the image."""
    if not found:
        return True
    sides = [min(d.box[2] - d.box[0], d.box[3] - d.box[1]) for d in found]
    return max(sides) >= FILLING * min(height, width)


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
    smallest = SMALLEST * min(framing.width, framing.height)
    return replace(params, min_face_size=max(params.min_face_size, smallest) * framing.scale)


def to_original(detection: Any, framing: Framing) -> Any:
    """A detection on the bordered copy in the original's pixels (not yet clipped: the
    aligned crop is cut from the true landmarks, black beyond the image's edge)."""
    offset = np.array([framing.left, framing.top], np.float32)
    landmarks = (detection.landmarks - offset) / np.float32(framing.scale)
    box = (detection.box - np.tile(offset, 2)) / np.float32(framing.scale)
    return replace(detection, box=box.astype(np.float32), landmarks=landmarks.astype(np.float32))


def not_seen_again(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    """The first look's faces that no face of the second look replaces."""
    if not second:
        return list(first)
    overlap = iou(np.array([d.box for d in first]), np.array([d.box for d in second]))
    return [d for d, row in zip(first, overlap) if row.max() <= SAME_FACE_IOU]


def clipped(face: Any, width: int, height: int) -> Any:
    """``face`` with its box and landmarks clipped to a ``width`` x ``height`` image."""
    box = np.clip(face.box, 0, [width, height, width, height]).astype(np.float32)
    landmarks = np.clip(face.landmarks, 0, [width, height]).astype(np.float32)
    return replace(face, box=box, landmarks=landmarks)
