"""Face alignment by similarity transform."""
from __future__ import annotations

import numpy as np

from services.runtime.alignment import align_face, reframe, similarity_transform, template_for


def rotation_scale(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), shift[0]],
                     [scale * np.sin(a), scale * np.cos(a), shift[1]]])


def test_recovers_a_known_similarity_exactly():
    source = template_for(112)
    truth = rotation_scale(20, 1.7, (30, -12))
    target = source @ truth[:, :2].T + truth[:, 2]
    np.testing.assert_allclose(similarity_transform(source, target), truth, atol=1e-9)


def test_never_mirrors_the_face():
    source = template_for(112)
    mirrored = source * np.array([-1.0, 1.0])
    matrix = similarity_transform(source, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_aligned_crop_puts_landmarks_on_the_template():
    size = 96
    image = np.zeros((300, 300, 3), np.uint8)
    truth = rotation_scale(-15, 2.0, (60, 40))
    landmarks = template_for(size) @ truth[:, :2].T + truth[:, 2]
    for x, y in landmarks.astype(int):
        image[y - 1:y + 2, x - 1:x + 2] = 255
    crop = align_face(image, landmarks, size)
    assert crop.shape == (size, size, 3)
    for x, y in template_for(size).round().astype(int):
        assert crop[y - 1:y + 2, x - 1:x + 2].max() > 100


def test_reframe_cuts_the_tighter_framing_of_the_same_face():
    size = 112
    y, x = np.mgrid[0:400, 0:400]
    smooth = 127 + 60 * np.sin(x / 9.0) + 60 * np.cos(y / 13.0)  # detail that survives resampling
    image = np.repeat(smooth[:, :, None], 3, axis=2).astype(np.uint8)
    landmarks = template_for(size) * 2.5 + 40
    loose = align_face(image, landmarks, 224, margin=0.4)
    tight = align_face(image, landmarks, size, margin=0.1)
    cut = reframe(loose, 0.4, 0.1, size)
    assert np.abs(cut.astype(int) - tight.astype(int)).mean() < 4  # resampled twice vs once


def test_reframe_refuses_to_widen():
    import pytest

    with pytest.raises(ValueError, match="cannot widen"):
        reframe(np.zeros((10, 10, 3), np.uint8), 0.1, 0.4, 10)
