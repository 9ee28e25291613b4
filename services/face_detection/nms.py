"""Greedy non-maximum suppression over (x1, y1, x2, y2) boxes, in numpy.

Two overlap conventions are needed to reproduce MTCNN as facenet-pytorch runs it: torchvision's
``nms`` (continuous areas, intersection over union) for the pyramid and R-Net stages, and the
original MATLAB/numpy one (pixel-inclusive "+1" areas, intersection over the smaller box, "Min")
for the final O-Net stage.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

Method = Literal["union", "min"]


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    method: Method = "union",
    inclusive: bool = False,
    last_wins_ties: bool = False,
) -> np.ndarray:
    """Indices of the kept boxes, highest score first.

    A box is dropped when its overlap with an already kept, higher scoring box is above
    ``threshold``. ``inclusive`` counts pixel-inclusive extents (``x2 - x1 + 1``).
    Among equal scores the earlier box wins, as with torchvision's stable sort, unless
    ``last_wins_ties``: facenet-pytorch's numpy NMS pops the end of an ascending argsort, so there
    the later box wins. Ties are common: O-Net saturates at 0.99999988 on clear faces, and
    which of several such boxes survives moves the final box by up to ~25 px.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    boxes = np.asarray(boxes, dtype=np.float64)
    one = 1.0 if inclusive else 0.0
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + one) * (y2 - y1 + one)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(s, kind="stable")[::-1] if last_wins_ties else np.argsort(-s, kind="stable")
    keep: list[int] = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + one)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + one)
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):  # degenerate boxes give 0/0
            if method == "min":
                # facenet's numpy NMS keeps only overlap <= threshold: NaN suppresses.
                order = rest[inter / np.minimum(areas[i], areas[rest]) <= threshold]
            else:
                # torchvision suppresses only overlap > threshold: NaN keeps.
                order = rest[~(inter / (areas[i] + areas[rest] - inter) > threshold)]
    return np.asarray(keep, dtype=np.int64)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of (N, 4) and (M, 4) boxes -> (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
