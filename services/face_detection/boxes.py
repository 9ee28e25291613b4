"""Box arithmetic and area resampling for the MTCNN cascade (numpy only).

The arithmetic follows facenet-pytorch 2.6.0's ``detect_face`` step by step, including its
float32 rounding and its mix of inclusive ("+1") and exclusive box widths, because the pretrained
regressors were fitted with exactly these conventions and parity with it is tested.
"""
from __future__ import annotations

import numpy as np

PNET_STRIDE = 2
PNET_CELL = 12
NORM_MEAN = np.float32(127.5)
NORM_SCALE = np.float32(0.0078125)


class AreaSampler:
    """Area-averaging resize of any rectangle of one image, as torch ``interpolate(mode="area")``.

    torch's area mode is adaptive average pooling: output cell i covers input rows
    floor(i*in/out) .. ceil((i+1)*in/out), which differs from cv2.INTER_AREA for non-integer
    factors. One integral image answers every pyramid level and every crop, and its sums are
    exact, so only the final division rounds.

    The integral is uint32 at any size (12 bytes a pixel; float64, as before, was 24 and drove
    a 40 Mpx image to ~2 GB): its running sums wrap modulo 2**32 past 16.8 Mpx, but a cell sum
    is a difference of four of them, exact modulo 2**32, hence exact while the cell itself
    holds under 16.8 Mpx. Cells are at most 1/144 of the image (P-Net levels and crops have 12
    or more cells a side), so that holds up to 2.4 Gpx. Built in blocks of rows, so no
    whole-image temporary is made.
    """

    ROWS_PER_BLOCK = 256

    def __init__(self, rgb: np.ndarray):
        h, w, _ = rgb.shape
        self.integral = np.zeros((h + 1, w + 1, 3), dtype=np.uint32)
        with np.errstate(over="ignore"):  # the wrap is intended (see above)
            for top in range(0, h, self.ROWS_PER_BLOCK):
                bottom = min(h, top + self.ROWS_PER_BLOCK)
                rows = np.cumsum(rgb[top:bottom], axis=1, dtype=np.uint32)
                block = self.integral[top + 1:bottom + 1, 1:]
                np.cumsum(rows, axis=0, out=block)
                block += self.integral[top, 1:]

    def resample(self, y0: int, y1: int, x0: int, x1: int, out_h: int, out_w: int) -> np.ndarray:
        """Rows y0:y1, columns x0:x1 resized to (3, out_h, out_w) float32, normalised."""
        ys, ye = _bins(y1 - y0, out_h)
        xs, xe = _bins(x1 - x0, out_w)
        ys, ye, xs, xe = ys + y0, ye + y0, xs + x0, xe + x0
        s = self.integral
        # In uint32 the partial differences may wrap; the final sum is exact all the same.
        total = s[np.ix_(ye, xe)] - s[np.ix_(ys, xe)] - s[np.ix_(ye, xs)] + s[np.ix_(ys, xs)]
        count = ((ye - ys)[:, None] * (xe - xs)[None, :])[..., None]
        mean = (total.astype(np.float64) / count).astype(np.float32)
        return ((mean - NORM_MEAN) * NORM_SCALE).transpose(2, 0, 1)


def _bins(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(n_out, dtype=np.int64)
    return (i * n_in) // n_out, ((i + 1) * n_in + n_out - 1) // n_out


def pyramid_scales(h: int, w: int, min_face_size: float, factor: float) -> list[float]:
    """Scales at which P-Net's 12 px window sees faces from min_face_size up to the image."""
    scale = 12.0 / min_face_size
    side = min(h, w) * scale
    scales = []
    while side >= 12:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def heatmap_candidates(
    reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float
) -> np.ndarray:
    """P-Net maps (4, h, w) and (h, w) -> (n, 9) rows [x1, y1, x2, y2, score, 4 regressions]."""
    ys, xs = np.nonzero(prob >= threshold)  # row-major, as torch's nonzero
    cells = np.stack([xs, ys], axis=1).astype(np.float32)
    s = np.float32(scale)
    top_left = np.floor((PNET_STRIDE * cells + 1) / s)
    bottom_right = np.floor((PNET_STRIDE * cells + PNET_CELL) / s)
    return np.concatenate(
        [top_left, bottom_right, prob[ys, xs, None], reg[:, ys, xs].T], axis=1
    ).astype(np.float32)


def regress(boxes: np.ndarray, reg: np.ndarray, inclusive: bool) -> np.ndarray:
    """Apply the nets' box offsets, which are fractions of the box width and height."""
    one = np.float32(1.0 if inclusive else 0.0)
    w = boxes[:, 2] - boxes[:, 0] + one
    h = boxes[:, 3] - boxes[:, 1] + one
    scale = np.stack([w, h, w, h], axis=1)
    return (boxes[:, :4] + reg[:, :4] * scale).astype(np.float32)


def square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (the nets take square crops)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + w * np.float32(0.5) - side * np.float32(0.5)
    y1 = boxes[:, 1] + h * np.float32(0.5) - side * np.float32(0.5)
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1).astype(np.float32)


def crop_regions(boxes: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer (y0, y1, x0, x1) slices of each box clipped to the image, and which are non-empty.

    Like facenet-pytorch, the box is truncated and clipped rather than zero-padded: a face at
    the border is cropped to its visible part and stretched to the net's input size.
    """
    t = np.trunc(boxes[:, :4]).astype(np.int64)
    x0 = np.maximum(t[:, 0], 1) - 1
    y0 = np.maximum(t[:, 1], 1) - 1
    x1 = np.minimum(t[:, 2], w)
    y1 = np.minimum(t[:, 3], h)
    regions = np.stack([y0, y1, x0, x1], axis=1)
    return regions, (y1 > y0) & (x1 > x0)


def crops(sampler: AreaSampler, regions: np.ndarray, size: int) -> np.ndarray:
    """(n, 3, size, size) float32 batch of normalised crops."""
    batch = np.empty((len(regions), 3, size, size), dtype=np.float32)
    for k, (y0, y1, x0, x1) in enumerate(regions):
        batch[k] = sampler.resample(int(y0), int(y1), int(x0), int(x1), size, size)
    return batch
