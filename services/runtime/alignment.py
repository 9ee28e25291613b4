"""Face alignment: a similarity transform taking 5 landmarks onto a canonical template."""
from __future__ import annotations

import cv2
import numpy as np

# The widely used 112x112 five-point template (InsightFace / ArcFace), reordered to our
# landmark order, which names points from the subject's view: the subject's left eye is on the
# right of a frontal photo.
TEMPLATE_112 = np.array(
    [
        [73.5318, 51.5014],  # left eye (subject's)
        [38.2946, 51.6963],  # right eye
        [56.0252, 71.7366],  # nose tip
        [70.7299, 92.2041],  # mouth left
        [41.5493, 92.3655],  # mouth right
    ],
    dtype=np.float64,
)


# The framing of the crops the gateway sends to every per-face service: one crop per face,
# loose enough that each service can cut its own tighter view from it (see ``reframe``).
SHARED_CROP_MARGIN = 0.4


def template_for(size: int, margin: float = 0.0) -> np.ndarray:
    """The template scaled to a ``size`` square; ``margin`` in [0, 1) shrinks the face to show
    context."""
    points = TEMPLATE_112 / 112.0
    points = 0.5 + (points - 0.5) * (1.0 - margin)
    return points * size


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2x3 matrix of the least-squares similarity (Umeyama 1991) taking source onto target."""
    src_mean, dst_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - src_mean, target - dst_mean
    covariance = dst.T @ src / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    reflection = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        reflection[1, 1] = -1.0  # keep a rotation, never a mirror
    rotation = u @ reflection @ vt
    scale = np.trace(np.diag(singular) @ reflection) / src.var(axis=0).sum()
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def align_face(rgb: np.ndarray, landmarks: np.ndarray, size: int,
               margin: float = 0.0) -> np.ndarray:
    """Warp the face whose 5 landmarks are given into a ``size`` x ``size`` RGB crop."""
    matrix = similarity_transform(np.asarray(landmarks, np.float64), template_for(size, margin))
    return cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )


def reframe(crop: np.ndarray, margin_in: float, margin_out: float, size: int) -> np.ndarray:
    """Cut a tighter (or equal) framing out of an aligned crop and resize it to ``size``.

    Both framings are centred on the same template, so the face keeps its place; a looser
    framing than the crop has is refused, since those pixels were never sent.
    """
    if margin_out > margin_in:
        raise ValueError(f"cannot widen a crop framed at margin {margin_in} to {margin_out}")
    side = crop.shape[0] * (1.0 - margin_in) / (1.0 - margin_out)  # the tighter view is smaller
    start = (crop.shape[0] - side) / 2.0
    scale, shift = size / side, -start * size / side
    matrix = np.array([[scale, 0.0, shift], [0.0, scale, shift]])
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.warpAffine(crop, matrix, (size, size), flags=interpolation,
                          borderMode=cv2.BORDER_REPLICATE)
