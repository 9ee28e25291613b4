"""The identity head: a linear projection of frozen face features, learned on labelled people.

Recipe (within-class whitening on top of PCA): standardise the chosen feature groups, keep
the top ``pca_dim`` principal components (the features are thousands wide and the people
few), then whiten by the within-subject scatter, shrunk towards its mean variance:
(S_within + r * tr(S_within) / p * I) ^ -1/2. Directions in which one person's photos vary
(pose, light, expression) shrink; directions that tell people apart keep their length.
Distances are Euclidean between L2-normalised projections. Everything folds into one
``LinearHead`` (weights on the raw features + a bias), so serving is one matrix product.

Chosen on LFW's held-out people only (``models.identity.train``): against PCA alone, LDA at
64/128 dimensions and less shrinkage, this gave the best TAR at FAR 1e-3 there (docs/models.md).

Faces without identity labels (``unlabelled``: one photo per person, e.g. SCUT-FBP5500's Asian
faces, which LFW has few of) join the standardisation and the PCA but not the within-subject
scatter: the kept components then also span the ways those people differ from each other.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh

from models.attributes.features import columns, nets_of, width
from models.attributes.linear import LinearHead
from models.identity.centering import Centering


@dataclass(frozen=True)
class ProjectionConfig:
    groups: tuple[str, ...]
    pca_dim: int = 256
    ridge: float = 3.0  # multiple of the mean within-subject variance added to S_within

    def describe(self) -> dict:
        return {"method": "PCA + within-class whitening, L2-normalised",
                "groups": list(self.groups), "pca_dim": self.pca_dim, "ridge": self.ridge}


def fit_projection(x: np.ndarray, subjects: np.ndarray, config: ProjectionConfig,
                   unlabelled: np.ndarray | None = None) -> LinearHead:
    """``x``: (n, full width) features of every net; ``subjects``: (n,) labels; ``unlabelled``:
    (m, full width) features of other people, one photo each (PCA only; module doc)."""
    cols = columns(config.groups)
    rows = x if unlabelled is None else np.concatenate([x, unlabelled])
    standardised, mean, std = _standardise(rows[:, cols].astype(np.float64))
    # the covariance's eigenvectors: far cheaper than an SVD of the data at ~2k columns
    values, vectors = eigh(standardised.T @ standardised / len(standardised))
    pca = vectors[:, np.argsort(values)[::-1][: config.pca_dim]]   # (cols, pca_dim)
    z = standardised[: len(x)]
    linear = pca @ _within_whitening(z @ pca, subjects, config.ridge)
    nets = nets_of(config.groups)
    weight = np.zeros((config.pca_dim, width(nets)), np.float32)
    weight[:, columns(config.groups, nets)] = (linear / std[:, None]).T
    bias = -(mean / std) @ linear
    return LinearHead(nets, weight, bias.astype(np.float32), config.describe())


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    return (x - mean) / std, mean, std


def _within_whitening(y: np.ndarray, subjects: np.ndarray, ridge: float) -> np.ndarray:
    """(p, p) shrunk inverse square root of the within-subject scatter of ``y``; subjects
    with one image add nothing (their variation is unknown)."""
    labels, inverse, counts = np.unique(subjects, return_inverse=True, return_counts=True)
    means = np.zeros((len(labels), y.shape[1]))
    np.add.at(means, inverse, y)
    means /= counts[:, None]
    within = (y - means[inverse])[counts[inverse] > 1]
    scatter = within.T @ within / max(1, len(within))
    scatter += ridge * np.trace(scatter) / len(scatter) * np.eye(len(scatter))
    values, vectors = eigh(scatter)
    return vectors @ np.diag(values ** -0.5) @ vectors.T


def embed(head: LinearHead, x: np.ndarray, centering: Centering | None = None) -> np.ndarray:
    """What the served graph outputs: the projection, L2-normalised (then centred on the
    cohort, when the model has one: ``models.identity.centering``)."""
    out = head.predict(x)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out if centering is None else centering.apply(out)


def subject_split(names: Sequence[str], share: float, salt: str = "identity") -> np.ndarray:
    """(n,) bool: the subjects held out (by a hash of the name, stable everywhere)."""
    return np.array([int(hashlib.sha256(f"{salt}|{n}".encode()).hexdigest()[:8], 16) / 16**8 < share
                     for n in names])
