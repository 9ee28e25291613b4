"""Verification and identification figures from embeddings with subject labels.

- ROC: every pair of images; genuine = same subject. TAR at a FAR is the share of genuine
  pairs closer than the distance that lets through that share of impostor pairs.
- Rank-1 with one enrolled image: each subject's first image is enrolled, every other image
  of theirs is a probe; right when the nearest enrolled image is the subject's own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FARS = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True)
class PairDistances:
    genuine: np.ndarray   # distances of same-subject pairs
    impostor: np.ndarray  # distances of different-subject pairs


def pair_distances(vectors: np.ndarray, subjects: np.ndarray) -> PairDistances:
    """Euclidean distances of every unordered pair, split by whether the subjects match."""
    v = vectors.astype(np.float32)
    squared = (v ** 2).sum(axis=1)
    upper = np.triu_indices(len(v), k=1)
    genuine, impostor = [], []
    for start in range(0, len(v), 512):  # row blocks keep memory at 512 x n
        rows = slice(start, start + 512)
        block = squared[rows, None] + squared[None, :] - 2.0 * v[rows] @ v.T
        keep = upper[0] // 512 == start // 512
        i, j = upper[0][keep], upper[1][keep]
        d = np.sqrt(np.clip(block[i - start, j], 0.0, None))
        same = subjects[i] == subjects[j]
        genuine.append(d[same])
        impostor.append(d[~same])
    return PairDistances(np.concatenate(genuine), np.concatenate(impostor))


def threshold_at(impostor: np.ndarray, far: float) -> float:
    """The distance below which at most ``far`` of the impostor pairs fall."""
    k = int(np.floor(far * len(impostor)))  # pairs strictly below the k-th smallest: <= k
    if k >= len(impostor):
        return float("inf")
    return float(np.partition(impostor, k)[k])


def far_at(impostor: np.ndarray, threshold: float) -> float:
    return float((impostor < threshold).mean()) if len(impostor) else float("nan")


def tar_at(pairs: PairDistances, threshold: float) -> float:
    return float((pairs.genuine < threshold).mean()) if len(pairs.genuine) else float("nan")


def roc(pairs: PairDistances, fars: tuple[float, ...] = FARS) -> dict[str, float]:
    """TAR at each FAR (where enough impostor pairs exist to measure it)."""
    out = {}
    for far in fars:
        if far * len(pairs.impostor) >= 1:
            out[f"tar_at_far_{far:g}"] = tar_at(pairs, threshold_at(pairs.impostor, far))
    return out


def rank1(vectors: np.ndarray, subjects: np.ndarray) -> float:
    """Identification accuracy with each subject's first image enrolled (see module doc)."""
    first = {}
    for row, subject in enumerate(subjects):
        first.setdefault(int(subject), row)
    enrolled = np.array(sorted(first.values()))
    probes = np.setdiff1d(np.arange(len(subjects)), enrolled)
    if len(probes) == 0:
        return float("nan")
    d = _squared_distances(vectors[probes], vectors[enrolled])
    return float((subjects[enrolled][d.argmin(axis=1)] == subjects[probes]).mean())


def _squared_distances(probes: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    squared = (gallery ** 2).sum(axis=1)
    return (probes ** 2).sum(axis=1)[:, None] + squared[None, :] - 2.0 * probes @ gallery.T


def summary(vectors: np.ndarray, subjects: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC, rank-1, and FAR/TAR at the served ``threshold``."""
    pairs = pair_distances(vectors, subjects)
    return {**roc(pairs), "rank1_one_enrolled": rank1(vectors, subjects),
            "far_at_threshold": far_at(pairs.impostor, threshold),
            "tar_at_threshold": tar_at(pairs, threshold),
            "genuine_pairs": len(pairs.genuine), "impostor_pairs": len(pairs.impostor),
            "subjects": len(np.unique(subjects)), "images": len(subjects)}
