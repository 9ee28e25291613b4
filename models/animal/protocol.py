"""Open-set identification figures: enrol one set, identify another, nearest subject first.

``rank_k`` and ``false_accept`` take a (queries, subjects) score matrix (higher = more alike),
so the global-only and the re-ranked answers are measured by the same code.
"""
from __future__ import annotations

import numpy as np


def subject_distances(gallery: np.ndarray, gallery_labels: list[str], queries: np.ndarray
                      ) -> tuple[np.ndarray, list[str]]:
    """(queries, subjects) distance of each query to each subject's nearest enrolled embedding."""
    subjects = sorted(set(gallery_labels))
    labels = np.array(gallery_labels)
    distances = np.linalg.norm(queries[:, None] - gallery[None], axis=2)
    per_subject = np.stack([distances[:, labels == s].min(axis=1) for s in subjects], axis=1)
    return per_subject, subjects


def rank_k(scores: np.ndarray, subjects: list[str], truth: list[str], k: int) -> float:
    order = np.argsort(-scores, axis=1)[:, :k]
    names = np.array(subjects)[order]
    return float(np.mean([t in row for t, row in zip(truth, names)]))


def false_accept(scores: np.ndarray, accepted: np.ndarray, subjects: list[str],
                 truth: list[str]) -> float:
    """Share of queries whose top subject is wrong and yet accepted as the same animal.

    ``accepted`` is (queries, subjects) bool: the service's same_subject flag per pair."""
    top = np.argmax(scores, axis=1)
    wrong = np.array(subjects)[top] != np.array(truth)
    return float(np.mean(wrong & accepted[np.arange(len(top)), top]))
