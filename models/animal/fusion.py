"""Calibration of the re-ranking fusion (services/animal_identity/rerank.py) on training data.

Held-out cows: ``HELD_OUT`` cows of holstein2025 ``datasets_v2`` and of opencows2020
``train`` (the first by sha256 of their id) are left out of a calibration head trained exactly
like the served one. Each held-out cow enrols its first ``ENROLLED`` images and queries up to
``QUERIES`` others; every query's shortlisted subjects (global distance, SIFT inliers) with "is
it the right cow" labels fit the logistic fusion; the acceptance probability is then the lowest
at which at most ``TARGET_FALSE_ACCEPT`` of those queries accept a wrong top subject. The
served head is trained on all cows; unseen animals' distances under it are what the held-out
cows' are under the calibration head, which is the point of holding them out.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from models.animal import data, features
from models.animal.head import EmbeddingHead, embed
from services.animal_identity import keypoints
from services.animal_identity.rerank import SHORTLIST, Fusion, ImageHit, rerank
from services.runtime.imaging import decode_image

# animals held out of the calibration head, per training set (both species, both cameras)
HELD_OUT = {"holstein_train": 12, "opencows_train": 8}
ENROLLED, QUERIES = 5, 10
# wrong top subjects accepted, share of queries, on the held-out cows (the served target is 2 %)
TARGET_FALSE_ACCEPT = 0.01


def held_out_cows(root: Path, name: str | None = None) -> list[str]:
    """The held-out animals of one training set (by sha256 of their id), or of all of them."""
    if name is None:
        return [c for n in HELD_OUT for c in held_out_cows(root, n)]
    cows = sorted(set(data.load_set(root, name)[1]))
    return sorted(cows, key=lambda c: hashlib.sha256(c.encode()).hexdigest())[:HELD_OUT[name]]


def split(root: Path, name: str) -> tuple[list[int], list[int], list[Path], list[str]]:
    paths, subjects = data.load_set(root, name)
    cows = set(held_out_cows(root, name))
    enrolled, queried, seen = [], [], {}
    for i, subject in enumerate(subjects):
        if subject in cows:
            n = seen[subject] = seen.get(subject, -1) + 1
            (enrolled if n < ENROLLED else queried if n < ENROLLED + QUERIES else []).append(i)
    return enrolled, queried, paths, subjects


def candidate_rows(vectors: np.ndarray, enrolled, queried, paths, subjects, offset: int = 0):
    """(distance, log1p inliers, label) of every shortlisted subject of every query."""
    local = {i: keypoints.extract(decode_image(paths[i].read_bytes())) for i in enrolled + queried}
    rows = []
    for q in queried:
        hits = [ImageHit(subjects[e], float(np.linalg.norm(vectors[q] - vectors[e])), local[e])
                for e in enrolled]
        flat = Fusion(0.0, -1.0, 0.0)  # ranks by distance only: the shortlist itself
        for r in rerank(local[q], hits, flat, SHORTLIST):
            right = float(r.subject == subjects[q])
            rows.append((r.distance, np.log1p(r.inliers), right, offset + q))
    return np.array(rows)


def accept_probability(table: np.ndarray, fusion: Fusion, false_accept: float) -> float:
    """The lowest probability at which at most ``false_accept`` of the queries have a wrong
    top subject accepted (each query's top = its most probable shortlisted subject)."""
    z = fusion.intercept + fusion.distance * table[:, 0] + fusion.inliers * table[:, 1]
    p = 1.0 / (1.0 + np.exp(-z))
    queries = np.unique(table[:, 3])
    tops = [np.flatnonzero(table[:, 3] == q)[np.argmax(p[table[:, 3] == q])] for q in queries]
    wrong = np.sort([p[i] for i in tops if table[i, 2] == 0])[::-1]
    allowed = int(np.floor(false_accept * len(queries)))  # wrong tops that may pass
    return 0.5 if len(wrong) <= allowed else max(0.5, float(np.nextafter(wrong[allowed], 1.0)))


def calibrate(root: Path, groups, head: EmbeddingHead) -> dict:
    """Fit the fusion on the held-out cows; ``head`` was trained without them."""
    tables = []
    for number, name in enumerate(HELD_OUT):  # one gallery per set: a farm holds one species
        enrolled, queried, paths, subjects = split(root, name)
        windows = features.TRAIN_WINDOWS if name == "opencows_train" else features.EVAL_WINDOWS
        rows = features.extract(paths, windows)[:, 0][:, features.columns(groups)]
        tables.append(candidate_rows(embed(head, rows), enrolled, queried, paths, subjects,
                                     number * 1_000_000))
    table = np.concatenate(tables)
    model = LogisticRegression(C=10.0).fit(table[:, :2], table[:, 2])
    fitted = Fusion(float(model.intercept_[0]), float(model.coef_[0, 0]), float(model.coef_[0, 1]))
    fusion = Fusion(fitted.intercept, fitted.distance, fitted.inliers,
                    accept_probability(table, fitted, TARGET_FALSE_ACCEPT))
    return {"intercept": fusion.intercept, "distance": fusion.distance, "inliers": fusion.inliers,
            "accept": fusion.accept, "target_false_accept": TARGET_FALSE_ACCEPT,
            "distance_threshold": fusion.distance_threshold, "held_out": HELD_OUT,
            "queries": len(np.unique(table[:, 3])), "candidate_rows": len(table),
            "fitted_on": "held-out cows of holstein2025 datasets_v2 and opencows2020 train "
                         "(training data, not a test set)"}
