"""The second look's geometry (padding.py): bordered copy, mapping back, clipping, merging."""
from __future__ import annotations

import numpy as np

from services.face_detection import padding
from services.face_detection.mtcnn import Detection, MtcnnParams


def detection(box, score: float = 0.99) -> Detection:
    x1, y1, x2, y2 = box
    eyes_nose_mouth = [[x1, y1], [x2, y1], [(x1 + x2) / 2, (y1 + y2) / 2], [x1, y2], [x2, y2]]
    return Detection(np.array(box, np.float32), score, np.array(eyes_nose_mouth, np.float32))


def test_a_large_image_is_downscaled_then_bordered_and_faces_map_back_to_it():
    rgb = np.zeros((600, 1024, 3), np.uint8)
    framed, framing = padding.bordered(rgb, 0.25)
    assert framing.scale == 0.5 and (framing.left, framing.top) == (128, 75)
    assert framed.shape == (300 + 2 * 75, 512 + 2 * 128, 3)
    # A face at (100, 50)-(400, 250) of the original sits at (178, 100)-(328, 200) in the copy.
    back = padding.to_original(detection((178, 100, 328, 200)), framing)
    np.testing.assert_allclose(back.box, [100, 50, 400, 250])
    np.testing.assert_allclose(back.landmarks[2], [250, 150])
    # The copy is searched only for a face filling the original: 0.4 of 600 px, at half size.
    assert padding.retry_params(MtcnnParams(min_face_size=20), framing).min_face_size == 120


def test_a_small_image_keeps_its_size_and_the_border_repeats_its_edge():
    rgb = np.arange(10 * 8 * 3, dtype=np.uint8).reshape(10, 8, 3)
    framed, framing = padding.bordered(rgb, 0.25)
    assert framing.scale == 1.0 and framed.shape == (10 + 2 * 2, 8 + 2 * 2, 3)
    np.testing.assert_array_equal(framed[0, 2:-2], rgb[0])


def test_only_a_missing_or_filling_face_asks_for_a_second_look():
    assert padding.needs_second_look([], 200, 300)
    assert padding.needs_second_look([detection((0, 0, 150, 150))], 200, 300)  # 0.75 of 200
    assert not padding.needs_second_look([detection((0, 0, 100, 100))], 200, 300)


def test_boxes_and_landmarks_are_clipped_to_the_image():
    face = padding.clipped(detection((-14, -8, 99, 123)), width=86, height=110)
    np.testing.assert_allclose(face.box, [0, 0, 86, 110])
    assert (face.landmarks >= 0).all() and (face.landmarks <= [86, 110]).all()


def test_second_look_faces_replace_the_first_looks_they_overlap():
    misplaced, other = detection((-10, -10, 110, 120)), detection((150, 10, 190, 50))
    placed = detection((0, 5, 100, 110))
    assert padding.not_seen_again([misplaced, other], [placed]) == [other]
    assert padding.not_seen_again([misplaced], []) == [misplaced]
