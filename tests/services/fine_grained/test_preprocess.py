"""Preprocessing and the handler's pure helpers: crop-then-resize equals the reference recipe,
top-k ordering, box clipping."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as photos

from services.fine_grained.handler import crop_box, top_labels
from services.fine_grained.preprocess import MEAN, STD, View, crop_window, preprocess
from services.runtime.errors import InvalidInput


def reference(rgb: np.ndarray) -> np.ndarray:
    """The textbook recipe: resize the shorter side to 256, then centre-crop 224."""
    h, w = rgb.shape[:2]
    scale = 256 / min(h, w)
    resized = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    rh, rw = resized.shape[:2]
    top, left = (rh - 224) // 2, (rw - 224) // 2
    return resized[top:top + 224, left:left + 224]


@pytest.mark.parametrize("image", [photos.chelsea(), photos.coffee(), photos.astronaut(),
                                   photos.chelsea().transpose(1, 0, 2)])
def test_centre_crop_matches_resize_then_crop(image: np.ndarray) -> None:
    ours = crop_window(np.ascontiguousarray(image)).astype(np.float32)
    diff = np.abs(ours - reference(np.ascontiguousarray(image)).astype(np.float32))
    assert ours.shape == (224, 224, 3)
    assert diff.mean() < 2.0  # a pixel of rounding at most in where the window starts


def test_normalisation_and_layout() -> None:
    grey = np.full((300, 400, 3), 128, np.uint8)
    row = preprocess(grey)
    assert row.shape == (1, 3, 224, 224) and row.dtype == np.float32
    np.testing.assert_allclose(row[0, :, 0, 0], (128 - MEAN) / STD, rtol=1e-6)


def test_views_zoom_shift_and_flip() -> None:
    rgb = np.zeros((200, 400, 3), np.uint8)
    rgb[:, :200] = 255  # left half white
    assert crop_window(rgb, View(0.5, (-1.0, 0.0))).min() == 255  # zoomed into the left edge
    assert crop_window(rgb, View(0.5, (1.0, 0.0))).max() == 0
    left_half = crop_window(rgb, View(1.0))
    assert (crop_window(rgb, View(1.0, flip=True)) == left_half[:, ::-1]).all()


def test_small_images_are_enlarged() -> None:
    assert crop_window(np.zeros((20, 30, 3), np.uint8)).shape == (224, 224, 3)


def test_top_labels_order_and_clipping() -> None:
    p = np.array([0.1, 0.5, 0.05, 0.35], np.float32)
    labels = top_labels(p, 3, ["a", "b", "c"])
    assert [label.index for label in labels] == [1, 3, 0]
    assert labels[1].name == "class_3"  # unnamed class: its index
    assert len(top_labels(p, 10, [])) == 4


def test_crop_box_clips_to_the_image() -> None:
    rgb = np.zeros((100, 200, 3), np.uint8)
    assert crop_box(rgb, (-50.0, 10.2, 80.0, 500.0)).shape == (90, 80, 3)
    with pytest.raises(InvalidInput, match="at least 12"):
        crop_box(rgb, (190.0, 0.0, 400.0, 100.0))  # 10 px left inside the image
    with pytest.raises(InvalidInput, match="at least 12"):
        crop_box(rgb, (50.0, 50.0, 40.0, 90.0))  # x_max < x_min
    with pytest.raises(InvalidInput, match="finite"):
        crop_box(rgb, (0.0, 0.0, float("nan"), 50.0))
