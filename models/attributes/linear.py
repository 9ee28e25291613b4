"""The trained heads' common form: one linear layer on the features of some nets. Kept apart
from the fitting code (heads.py, which needs scikit-learn) so that building and serving a
model needs only numpy."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.attributes.features import net_columns


@dataclass
class LinearHead:
    """``x[:, used] @ weight.T + bias`` on the features of ``nets``; ``groups`` says which
    columns carry weight, ``record`` how it was trained (written beside the weights)."""

    nets: tuple[str, ...]
    weight: np.ndarray  # (outputs, dim of the nets' features), zero outside the groups
    bias: np.ndarray    # (outputs,)
    record: dict[str, Any] = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs (logits or score) for (n, dim) features of every net (features.NETS)."""
        return x[:, net_columns(self.nets)] @ self.weight.T + self.bias

    def save(self, stem: Path) -> None:
        stem.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(stem.with_suffix(".npz"), weight=self.weight.astype(np.float32),
                            bias=self.bias.astype(np.float32))
        record = {**self.record, "nets": list(self.nets)}
        stem.with_suffix(".json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, stem: Path) -> LinearHead:
        record = json.loads(stem.with_suffix(".json").read_text())
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as arrays:
            return cls(tuple(record["nets"]), arrays["weight"], arrays["bias"], record)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
