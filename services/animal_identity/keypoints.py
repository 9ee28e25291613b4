"""Local features of animal images and their geometric verification (the re-ranking step).

SIFT keypoints (OpenCV) of each enrolled image are stored beside its embedding; a query's
keypoints are matched against each shortlisted candidate's: Lowe's ratio test on the two
nearest descriptors, kept only when mutual (the candidate point's nearest query point is the
same one), then RANSAC fits a similarity transform (rotation, scale, shift:
``cv2.estimateAffinePartial2D``) and the inliers are counted. Coat patches and face marks of
one individual line up under one transform; a look-alike's only by chance. Needs no training
data of the species.

Images are resized so that their longer side is ``LONG_SIDE`` first: crops arrive from ~50 to
thousands of pixels, and SIFT finds few stable points on tiny crops and too many on large ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LONG_SIDE = 320
MAX_KEYPOINTS = 400  # the strongest; bounds the stored size (~55 KB) and the matching cost
RATIO = 0.75  # Lowe's ratio test
RANSAC_PIXELS = 5.0  # reprojection tolerance, in pixels of the LONG_SIDE image
MIN_MATCHES = 4
DESCRIPTOR_SIZE = 128


@dataclass(frozen=True)
class LocalFeatures:
    points: np.ndarray  # (n, 2) float32, pixel coordinates in the resized image
    descriptors: np.ndarray  # (n, 128) uint8

    def to_bytes(self) -> tuple[bytes, bytes]:
        return self.points.astype(np.float32).tobytes(), self.descriptors.astype(np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, points: bytes, descriptors: bytes) -> LocalFeatures:
        xy = np.frombuffer(points, np.float32).reshape(-1, 2)
        return cls(xy, np.frombuffer(descriptors, np.uint8).reshape(-1, DESCRIPTOR_SIZE))

    def __len__(self) -> int:
        return len(self.points)


_sift = None


def _detector() -> cv2.SIFT:
    global _sift  # one detector per process: its construction costs more than a small image
    if _sift is None:
        _sift = cv2.SIFT_create(nfeatures=MAX_KEYPOINTS)
    return _sift


def extract(rgb: np.ndarray) -> LocalFeatures:
    """SIFT keypoints and descriptors of an RGB uint8 image."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = LONG_SIDE / max(grey.shape[:2])
    size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
    grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    keypoints, descriptors = _detector().detectAndCompute(grey, None)
    if descriptors is None or not keypoints:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_SIZE), np.uint8))
    keypoints, descriptors = keypoints[:MAX_KEYPOINTS], descriptors[:MAX_KEYPOINTS]
    points = np.array([k.pt for k in keypoints], np.float32)
    return LocalFeatures(points, np.clip(np.round(descriptors), 0, 255).astype(np.uint8))


def inliers(query: LocalFeatures, candidate: LocalFeatures) -> int:
    """Ratio-test matches of ``query`` in ``candidate`` consistent with one similarity."""
    if len(query) < MIN_MATCHES or len(candidate) < 2:
        return 0
    rows, cols = mutual_matches(query.descriptors, candidate.descriptors)
    if len(rows) < MIN_MATCHES:
        return 0
    source, target = query.points[rows], candidate.points[cols]
    # fixed seed inside OpenCV's RANSAC: the same pair always gets the same count
    cv2.setRNGSeed(0)
    _, mask = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC,
                                          ransacReprojThreshold=RANSAC_PIXELS, maxIters=500)
    return 0 if mask is None else int(mask.sum())


def mutual_matches(query: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query rows, candidate rows) of the ratio-test matches whose candidate point's own
    nearest query point is the same one: a coat of repeated texture gives many one-way matches
    to one spot, and those are what RANSAC turns into chance inliers between different animals.
    Both directions read one matrix of squared distances (one product of the descriptors)."""
    q, c = query.astype(np.float32), candidate.astype(np.float32)
    squared = (q * q).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2.0 * (q @ c.T)
    distance = np.sqrt(np.maximum(squared, 0.0))
    two = np.argpartition(distance, 1, axis=1)[:, :2]  # column 0: the nearest, 1: the next
    rows, nearest = np.arange(len(q)), two[:, 0]
    ratio_ok = distance[rows, nearest] < RATIO * distance[rows, two[:, 1]]
    keep = ratio_ok & (distance.argmin(axis=0)[nearest] == rows)
    return rows[keep], nearest[keep]
