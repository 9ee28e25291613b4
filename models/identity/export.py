"""``face_embedding_xcloud``: the identity head alone on the nets it reads, as ONE ONNX graph
for the identity service (FACE collections) and face_attributes (its `embedding` part).

Input ``input``: (batch, 3, 224, 224) float32 RGB 0..255 of the face aligned at margin
``INPUT_MARGIN``; output ``embedding`` (batch, D), L2-normalised, centred on the committed
cohort (``models.identity.centering``). The card's ``identity`` block
holds the calibrated thresholds (``models.identity.train``).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.attributes.export import SCUT_TERMS, TOLERANCE, WEIGHTS_DIR, preprocessing, sources
from models.attributes.features import INPUT_SIZE, OPSET, FaceFeatures, export_onnx
from models.attributes.linear import LinearHead
from models.identity.centering import Centering, CentreOnCohort
from models.identity.projection import embed
from models.modelcard import ONNX_FILE
from models.onnx_check import max_abs_diff, pixel_batches
from xcloud import names

EMBEDDING = names.FACE_EMBEDDING
# 3: centred on a cohort; 2: FaceNet features; 1: face-api's and faceres'. Collections keep
# the version they were created with (docs/models.md: moving one is a re-enrolment).
VERSION = "3"
COHORT_FILE = f"{EMBEDDING}-cohort.npz"  # beside the head's weights
Embedder = Callable[[np.ndarray], np.ndarray]  # features (n, full width) -> embeddings
IDENTITY_TERMS = ("Identity head: LFW (Huang et al., 2007), research use; thresholds also "
                  "checked on SCUT-FBP5500 train_60 impostor pairs. FaceNet: trained by D. "
                  "Sandberg on CASIA-WebFace (research use).")


class EmbeddingNet(nn.Module):
    def __init__(self, head: LinearHead, centering: Centering):
        super().__init__()
        self.features = FaceFeatures(head.nets)
        self.linear = nn.Linear(head.weight.shape[1], head.weight.shape[0])
        self.linear.weight.data = torch.from_numpy(head.weight.astype("float32"))
        self.linear.bias.data = torch.from_numpy(head.bias.astype("float32"))
        self.centre = CentreOnCohort(centering)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.centre(F.normalize(self.linear(self.features(x)), dim=1))


def committed() -> tuple[LinearHead, Centering]:
    """The committed head and its cohort centering."""
    return LinearHead.load(WEIGHTS_DIR / EMBEDDING), Centering.load(WEIGHTS_DIR / COHORT_FILE)


def served_embedding() -> Embedder:
    """The embeddings the built graph serves, computed in numpy."""
    head, centering = committed()
    return functools.partial(embed, head, centering=centering)


def build(folder: Path) -> dict[str, Any]:
    head, centering = committed()
    net = EmbeddingNet(head, centering).eval()
    export_onnx(net, folder / ONNX_FILE, "embedding")
    worst = max_abs_diff(net, folder / ONNX_FILE, pixel_batches(INPUT_SIZE), TOLERANCE)
    record = head.record
    return {
        "name": EMBEDDING, "version": VERSION, "task": "face_identity",
        "summary": "Face identity embedding: PCA + within-class whitening over frozen FaceNet "
                   "features, fitted on LFW, centred on a cohort, calibrated thresholds.",
        "inputs": [{"name": "input", "shape": ["batch", 3, INPUT_SIZE, INPUT_SIZE],
                    "dtype": "float32"}],
        "outputs": [{"name": "embedding", "shape": ["batch", int(head.weight.shape[0])],
                     "dtype": "float32"}],
        "labels": {},
        "preprocessing": preprocessing("none"),
        "head": {k: v for k, v in record.items() if k not in ("metrics", "identity")},
        "identity": record.get("identity", {}),
        "training_data": record.get("training_data", ""),
        "data_terms": f"{IDENTITY_TERMS} {SCUT_TERMS}",
        "export": {"opset": OPSET, "torch": torch.__version__, "max_abs_diff_vs_torch": worst},
        "metrics": record.get("metrics", {}),
        **sources(head.nets),
    }
