"""Preprocessing of ANIMAL collections' images, shared by serving, training and evaluation.

Animal crops are far from square (a cow's face is about twice as tall as wide, a top-down coat
crop is long), and an individual's marks can sit anywhere in the crop: the ImageNet centre
crop would cut off the muzzle or the rump. So the whole crop (or the caller's box) is resized
to 224x224, aspect not kept, and ImageNet-normalised; the embedding head was trained on the
same squashed views. Training augments with sub-windows (``Window``) of the crop.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from services.fine_grained.preprocess import INPUT_SIZE, normalise

PREPROCESSING_CARD = {
    "color": "RGB", "layout": "NCHW", "dtype": "float32",
    "resize": f"whole crop (or the caller's box) to {INPUT_SIZE}x{INPUT_SIZE}, aspect not kept",
    "formula": "(x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]",
    "input_size": [INPUT_SIZE, INPUT_SIZE],
}


@dataclass(frozen=True)
class Window:
    """A sub-window of the crop in fractions of its width and height (x0, y0, x1, y1)."""

    x0: float = 0.0
    y0: float = 0.0
    x1: float = 1.0
    y1: float = 1.0


WHOLE = Window()


def window_pixels(rgb: np.ndarray, window: Window = WHOLE) -> np.ndarray:
    """The window of an HxWx3 uint8 image, resized to INPUT_SIZE x INPUT_SIZE (uint8 HWC)."""
    h, w = rgb.shape[:2]
    x0, y0 = round(window.x0 * w), round(window.y0 * h)
    x1, y1 = max(round(window.x1 * w), x0 + 1), max(round(window.y1 * h), y0 + 1)
    part = rgb[y0:y1, x0:x1]
    shrinking = part.shape[0] * part.shape[1] > INPUT_SIZE * INPUT_SIZE
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(part, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)


def crop_box(rgb: np.ndarray, box: tuple[float, float, float, float] | None) -> np.ndarray:
    """The caller's box (x_min, y_min, x_max, y_max in pixels) of the image, clipped to it."""
    if box is None:
        return rgb
    h, w = rgb.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    return rgb[y0:y1, x0:x1]


def preprocess(rgb: np.ndarray, window: Window = WHOLE) -> np.ndarray:
    """One crop -> a (1, 3, 224, 224) batch row ready for the animal model."""
    return normalise(window_pixels(rgb, window)[None])
