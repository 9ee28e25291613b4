"""Localized centering of face embeddings on a cohort of other people (Hara et al., 2015).

FaceNet puts some populations closer together than others: two different SCUT-FBP5500 Asian
women sit nearer each other than two different LFW people, so one distance threshold gives
each population its own false-accept rate. Each embedding here has the mean of its ``k``
nearest cohort embeddings (other people, fixed at training time) partly removed, then is
L2-normalised again: ``normalise(e - strength * mean(top-k cohort neighbours of e))``. What
the whole neighbourhood shares (the look of a population under the model) shrinks; what
tells this face from its neighbours stays. It plays the part of cohort score normalisation
(S-norm) inside the embedding graph, so distances, the ANN index and the gallery stay as
they are.

Chosen on LFW's held-out people and the calibration sets only (``models.identity.train``):
the k and strength that let the most held-out LFW genuine pairs through at the calibrated
FAR-1e-3 threshold without lowering LFW's own TAR at FAR 1e-3 (docs/models.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Centering:
    cohort: np.ndarray  # (m, D) float32, L2-normalised embeddings of other people
    k: int
    strength: float

    def apply(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, D) L2-normalised -> (n, D) centred and L2-normalised (what the graph computes)."""
        similarity = embeddings @ self.cohort.T
        nearest = np.argsort(-similarity, axis=1, kind="stable")[:, : self.k]
        centred = embeddings - self.strength * self.cohort[nearest].mean(axis=1)
        return centred / np.linalg.norm(centred, axis=1, keepdims=True)

    def describe(self) -> dict[str, Any]:
        return {"method": "localized centering on a cohort (Hara et al., 2015)",
                "cohort_size": len(self.cohort), "k": self.k, "strength": self.strength}

    def save(self, path: Path) -> None:
        # float16 halves the committed file; apply() and the graph both read the rounded values
        np.savez_compressed(path, cohort=self.cohort.astype(np.float16),
                            k=np.array(self.k), strength=np.array(self.strength))

    @classmethod
    def load(cls, path: Path) -> Centering:
        with np.load(path, allow_pickle=False) as arrays:
            return cls(arrays["cohort"].astype(np.float32), int(arrays["k"]),
                       float(arrays["strength"]))

    @classmethod
    def of(cls, cohort: np.ndarray, k: int, strength: float) -> Centering:
        """From raw cohort embeddings, normalised and rounded as ``save`` stores them."""
        unit = cohort / np.linalg.norm(cohort, axis=1, keepdims=True)
        return cls(unit.astype(np.float16).astype(np.float32), k, strength)


class CentreOnCohort(nn.Module):
    """``Centering.apply`` as graph operations (MatMul, TopK, Gather, ReduceMean)."""

    def __init__(self, centering: Centering) -> None:
        super().__init__()
        self.register_buffer("cohort", torch.from_numpy(centering.cohort))
        self.k, self.strength = centering.k, centering.strength

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        nearest = torch.topk(embeddings @ self.cohort.T, self.k, dim=1).indices
        neighbours = self.cohort[nearest].mean(dim=1)
        return F.normalize(embeddings - self.strength * neighbours, dim=1)
