"""Calibration of the re-ranking fusion (services/animal_identity/rerank.py) on training data.

Held-out cows: ``HELD_OUT`` holstein2025 ``datasets_v2`` cows (the first by sha256 of their
ear tag) are left out of a calibration head trained exactly like the served one. Each held-out
cow enrols its first ``ENROLLED`` images and queries up to ``QUERIES`` others; every query's
shortlisted subjects (global distance, SIFT inliers) with "is it the right cow" labels fit the
logistic fusion. The served head is trained on all cows; unseen animals' distances under it are
what the held-out cows' are under the calibration head, which is the point of holding them out.
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

HELD_OUT, ENROLLED, QUERIES = 12, 5, 10


def held_out_cows(root: Path) -> list[str]:
    cows = sorted({s for s in data.load_set(root, "holstein_train")[1]})
    return sorted(cows, key=lambda c: hashlib.sha256(c.encode()).hexdigest())[:HELD_OUT]


def split(root: Path) -> tuple[list[int], list[int], list[Path], list[str]]:
    paths, subjects = data.load_set(root, "holstein_train")
    cows = set(held_out_cows(root))
    enrolled, queried, seen = [], [], {}
    for i, subject in enumerate(subjects):
        if subject in cows:
            n = seen[subject] = seen.get(subject, -1) + 1
            (enrolled if n < ENROLLED else queried if n < ENROLLED + QUERIES else []).append(i)
    return enrolled, queried, paths, subjects


def candidate_rows(vectors: np.ndarray, enrolled, queried, paths, subjects):
    """(distance, log1p inliers, label) of every shortlisted subject of every query."""
    local = {i: keypoints.extract(decode_image(paths[i].read_bytes())) for i in enrolled + queried}
    rows = []
    for q in queried:
        hits = [ImageHit(subjects[e], float(np.linalg.norm(vectors[q] - vectors[e])), local[e])
                for e in enrolled]
        flat = Fusion(0.0, -1.0, 0.0)  # ranks by distance only: the shortlist itself
        for r in rerank(local[q], hits, flat, SHORTLIST):
            rows.append((r.distance, np.log1p(r.inliers), float(r.subject == subjects[q])))
    return np.array(rows)


def calibrate(root: Path, groups, head: EmbeddingHead) -> dict:
    """Fit the fusion on the held-out cows; ``head`` was trained without them."""
    enrolled, queried, paths, subjects = split(root)
    rows = features.extract(paths, features.EVAL_WINDOWS)[:, 0][:, features.columns(groups)]
    table = candidate_rows(embed(head, rows), enrolled, queried, paths, subjects)
    model = LogisticRegression(C=10.0).fit(table[:, :2], table[:, 2])
    fusion = Fusion(float(model.intercept_[0]), float(model.coef_[0, 0]), float(model.coef_[0, 1]))
    return {"intercept": fusion.intercept, "distance": fusion.distance, "inliers": fusion.inliers,
            "distance_threshold": fusion.distance_threshold, "held_out_cows": HELD_OUT,
            "queries": len(queried), "candidate_rows": len(table),
            "fitted_on": "holstein2025 datasets_v2 held-out cows (training data, not a test set)"}
