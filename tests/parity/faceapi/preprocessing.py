"""face-api's own preprocessing, ported to numpy for the end-to-end parity check.

``NetInput.toBatchTensor(size, isCenter=true)``: zero-pad the image to a square (the extra
pixel of an odd difference goes after, as ``Math.round`` rounds halves up), then TensorFlow's
legacy bilinear resize (``alignCorners=false, halfPixelCenters=false``: source = dst * in/out),
computed in float64 and stored as float32 like tfjs-backend-cpu's kernel.
"""
from __future__ import annotations

import math

import numpy as np


def pad_to_square(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    diff = abs(height - width)
    after = math.floor(diff * 0.5 + 0.5)  # JS Math.round
    pads = [(0, 0), (0, 0), (0, 0)]
    pads[1 if height > width else 0] = (diff - after, after)
    return np.pad(rgb.astype(np.float32), pads)


def resize_bilinear_legacy(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    pixels = image.astype(np.float64)
    rows, row_frac, rows_next = _sources(height, size)
    cols, col_frac, cols_next = _sources(width, size)
    top = _lerp(pixels[rows][:, cols], pixels[rows][:, cols_next], col_frac[None, :, None])
    bottom = _lerp(pixels[rows_next][:, cols], pixels[rows_next][:, cols_next],
                   col_frac[None, :, None])
    return _lerp(top, bottom, row_frac[:, None, None]).astype(np.float32)


def _sources(old: int, new: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    source = (old / new) * np.arange(new, dtype=np.float64)
    floor = np.maximum(0, np.floor(source)).astype(np.int64)
    ceil = np.minimum(old - 1, np.ceil(source)).astype(np.int64)
    return floor, source - floor, ceil


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t


def to_batch_tensor(rgb: np.ndarray, size: int) -> np.ndarray:
    """(1, 3, size, size) float32 RGB 0..255: what face-api's nets see, before normalisation."""
    square = pad_to_square(rgb)
    if square.shape[0] != size:
        square = resize_bilinear_legacy(square, size)
    return square.transpose(2, 0, 1)[None]
