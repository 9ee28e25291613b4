"""A fine-grained classifier as ONE ONNX graph: MobileNetV2 pyramid features + trained head +
softmax, and the committed flowers17 head's repository builder (``flowers17_mobilenet_v2``).

A head is stored as ``<name>.npz`` (standardisation, linear weights, pooled layers; plain
arrays, no pickles) beside ``<name>.json`` (classes, training record, measured figures).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.fine_grained.features import PyramidFeatures
from models.fine_grained.head import Head
from models.mobilenet import export as mobilenet_export
from models.mobilenet.weights import load_backbone
from models.modelcard import ONNX_FILE
from xcloud import names

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FLOWERS17 = names.FLOWERS17


class FineGrainedNet(nn.Module):
    def __init__(self, features: PyramidFeatures, head: Head):
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head(self.features(x)), dim=1)


def save_head(head: Head, layers: tuple[int, ...], record: dict[str, Any], stem: Path) -> None:
    """Write ``stem.npz`` (weights) and ``stem.json`` (classes, training record, figures)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        stem.with_suffix(".npz"), mean=head.mean.numpy(), std=head.std.numpy(),
        weight=head.linear.weight.detach().numpy(), bias=head.linear.bias.detach().numpy(),
        layers=np.asarray(layers, np.int64),
    )
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def load_head(stem: Path) -> tuple[Head, tuple[int, ...], dict[str, Any]]:
    with np.load(stem.with_suffix(".npz"), allow_pickle=False) as arrays:
        head = Head(arrays["mean"], arrays["std"], len(arrays["bias"]))
        head.linear.weight.data = torch.from_numpy(arrays["weight"])
        head.linear.bias.data = torch.from_numpy(arrays["bias"])
        layers = tuple(int(i) for i in arrays["layers"])
    return head.eval(), layers, json.loads(stem.with_suffix(".json").read_text())


def build_classifier(
    folder: Path, name: str, head: Head, layers: tuple[int, ...], record: dict[str, Any]
) -> dict[str, Any]:
    """Write backbone + head as ``folder/model.onnx``; returns its model card."""
    net = FineGrainedNet(PyramidFeatures(load_backbone(), layers), head).eval()
    worst = mobilenet_export.export(net, folder / ONNX_FILE, "probabilities")
    classes = record["classes"]
    card = mobilenet_export.backbone_card(
        name, record["summary"], {"name": "probabilities", "shape": ["batch", len(classes)]}, worst,
    )
    card.update(
        labels={"probabilities": classes},
        head={"pooled_layers": list(layers), "training": record["training"]},
        training_data=f"{record['training_data']} (head); ImageNet ILSVRC-2012 (backbone)",
        data_terms=f"{record['data_terms']} {mobilenet_export.IMAGENET_TERMS}",
        metrics=record.get("metrics", {}),
    )
    return card


def build_flowers17(folder: Path) -> dict[str, Any]:
    """Repository builder of the served flowers model, from the committed head."""
    head, layers, record = load_head(WEIGHTS_DIR / FLOWERS17)
    return build_classifier(folder, FLOWERS17, head, layers, record)
