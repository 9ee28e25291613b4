"""ImageNet-style preprocessing, shared by serving, training and evaluation.

The reference recipe is "resize the shorter side to 256, centre-crop 224, normalise by the
ImageNet mean/std". We crop first and resize once: the 224 window of the 256-resized image is
the centred square of side 224/256 of the shorter side in the original, so one resize of that
region gives the same pixels at a fraction of the cost (large photos are never resized whole).
The same function takes zoomed, shifted and flipped windows for training-time augmentation.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INPUT_SIZE = 224
RESIZE_SIZE = 256
CENTRE_FRACTION = INPUT_SIZE / RESIZE_SIZE  # share of the shorter side the centre crop keeps
MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255.0
STD = np.array([0.229, 0.224, 0.225], np.float32) * 255.0
PREPROCESSING_CARD = {
    "color": "RGB", "layout": "NCHW", "dtype": "float32",
    "resize": f"shorter side to {RESIZE_SIZE}, centre crop {INPUT_SIZE}x{INPUT_SIZE}",
    "formula": "(x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]",
    "input_size": [INPUT_SIZE, INPUT_SIZE],
}


@dataclass(frozen=True)
class View:
    """A square window: ``fraction`` of the shorter side, centre moved by ``shift`` (each in
    -1..1 of the free room on that axis), optionally mirrored. The default is the centre crop."""

    fraction: float = CENTRE_FRACTION
    shift: tuple[float, float] = (0.0, 0.0)  # (x, y)
    flip: bool = False


CENTRE = View()


def crop_window(rgb: np.ndarray, view: View = CENTRE) -> np.ndarray:
    """The view's square of an HxWx3 uint8 image resized to INPUT_SIZE (uint8 HWC)."""
    h, w = rgb.shape[:2]
    side = max(1, round(min(h, w) * view.fraction))
    x0 = round((w - side) / 2 * (1 + view.shift[0]))
    y0 = round((h - side) / 2 * (1 + view.shift[1]))
    window = rgb[y0:y0 + side, x0:x0 + side]
    # Area averaging when shrinking avoids aliasing; bilinear when enlarging small crops.
    interpolation = cv2.INTER_AREA if side > INPUT_SIZE else cv2.INTER_LINEAR
    out = cv2.resize(window, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)
    return out[:, ::-1] if view.flip else out


def normalise(windows: np.ndarray) -> np.ndarray:
    """(n, 224, 224, 3) uint8 -> (n, 3, 224, 224) float32 with ImageNet mean/std."""
    x = (windows.astype(np.float32) - MEAN) / STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def preprocess(rgb: np.ndarray, view: View = CENTRE) -> np.ndarray:
    """One image -> a (1, 3, 224, 224) batch row ready for the model."""
    return normalise(crop_window(rgb, view)[None])
