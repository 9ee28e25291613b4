"""Greedy NMS and the box helpers of the MTCNN cascade (no models needed)."""
from __future__ import annotations

import numpy as np
import pytest

from services.face_detection import boxes as B
from services.face_detection.nms import iou, nms


def test_keeps_the_best_of_overlapping_boxes_and_separate_ones() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]], np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.95], np.float32)
    # IoU(3, 1) = 72/118 < 0.7 keeps box 1; box 0 overlaps box 3 by 0.9 and goes.
    assert nms(boxes, scores, 0.7).tolist() == [3, 1, 2]
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]


def test_min_overlap_suppresses_a_box_inside_another() -> None:
    boxes = np.array([[0, 0, 100, 100], [10, 10, 40, 40]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.7).tolist() == [0, 1]  # IoU 0.09: both kept
    assert nms(boxes, scores, 0.7, "min").tolist() == [0]  # fully inside the bigger one


def test_inclusive_areas_count_the_end_pixel() -> None:
    # Touching boxes: no overlap in continuous coordinates, one shared pixel column inclusive.
    boxes = np.array([[0, 0, 1, 1], [1, 0, 2, 1]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.4, "min").tolist() == [0, 1]
    assert nms(boxes, scores, 0.4, "min", inclusive=True).tolist() == [0]


def test_ties_go_to_the_first_box_unless_last_wins() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10]], np.float32)
    scores = np.full(3, 0.99999988, np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0]
    assert nms(boxes, scores, 0.5, last_wins_ties=True).tolist() == [2]


def test_degenerate_boxes_follow_each_reference() -> None:
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5]], np.float32)  # zero area: overlap is 0/0
    scores = np.array([0.9, 0.8], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 1]  # torchvision keeps
    assert nms(boxes, scores, 0.5, "min").tolist() == [0]  # facenet's numpy NMS drops


def test_empty_input() -> None:
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).shape == (0,)
    assert iou(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)


def test_iou() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [3, 3, 3, 3]])
    assert iou(a, b)[0] == pytest.approx([1.0, 1 / 3, 0.0, 0.0])


@pytest.mark.parametrize("n_in, n_out", [(7, 3), (5, 5), (3, 7), (256, 154), (10, 24)])
def test_area_resample_is_adaptive_average_pooling(n_in: int, n_out: int) -> None:
    rng = np.random.default_rng(n_in * 100 + n_out)
    rgb = rng.integers(0, 256, (n_in, n_in + 1, 3), dtype=np.uint8)
    got = B.AreaSampler(rgb).resample(0, n_in, 0, n_in + 1, n_out, n_out)
    # Reference: torch's adaptive_avg_pool2d bins, one mean per output cell.
    want = np.empty((3, n_out, n_out), np.float64)
    for i in range(n_out):
        for j in range(n_out):
            y0, y1 = i * n_in // n_out, -(-(i + 1) * n_in // n_out)
            x0, x1 = j * (n_in + 1) // n_out, -(-(j + 1) * (n_in + 1) // n_out)
            want[:, i, j] = rgb[y0:y1, x0:x1].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(got, (want - 127.5) * 0.0078125, atol=1e-6)


def test_crops_of_a_region_equal_resampling_the_cut_out_region() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    region = B.AreaSampler(rgb).resample(5, 29, 7, 31, 24, 24)
    cut = B.AreaSampler(np.ascontiguousarray(rgb[5:29, 7:31])).resample(0, 24, 0, 24, 24, 24)
    np.testing.assert_allclose(region, cut, atol=1e-6)


def test_crop_regions_clip_to_the_image_and_flag_empty_ones() -> None:
    boxes = np.array([[-5.7, -3.2, 20.9, 30.1], [60.0, 10.0, 80.0, 30.0]], np.float32)
    regions, valid = B.crop_regions(boxes, h=25, w=50)
    assert regions[0].tolist() == [0, 25, 0, 20]  # (y0, y1, x0, x1): truncated, then clipped
    assert valid.tolist() == [True, False]  # the second box lies right of the image


def test_square_keeps_the_centre() -> None:
    sq = B.square(np.array([[10, 20, 30, 60]], np.float32))
    assert sq.tolist() == [[0.0, 20.0, 40.0, 60.0]]


def test_pyramid_stops_below_one_pnet_window() -> None:
    assert B.pyramid_scales(19, 500, 20.0, 0.709) == []
    scales = B.pyramid_scales(100, 100, 20.0, 0.709)
    assert scales[0] == pytest.approx(0.6) and 100 * scales[-1] >= 12 > 100 * scales[-1] * 0.709
