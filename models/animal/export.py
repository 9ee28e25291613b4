"""The served animal embedding as ONE ONNX graph (MobileNetV2 features + trained head), and
its repository builder (``animal_reid_mobilenet_v2``).

The head is committed as ``models/animal/weights/<name>.npz`` (standardisation, projection)
beside ``<name>.json`` (feature groups, training record, fusion calibration, figures); the card's
``identity`` block carries the calibrated threshold and fusion the service serves.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.animal import features
from models.animal.head import NAME, WEIGHTS_DIR, EmbeddingHead, load
from models.mobilenet import export as mobilenet_export
from models.mobilenet.weights import load_backbone
from models.modelcard import ONNX_FILE
from services.animal_identity.animal_preprocess import PREPROCESSING_CARD


class AnimalEmbedding(nn.Module):
    """``embedding`` (batch, dim), L2-normalised, from ``input`` (batch, 3, 224, 224)."""

    def __init__(self, head: EmbeddingHead, groups: tuple[str, ...]):
        super().__init__()
        self.features = features.AnimalFeatures(load_backbone())
        self.register_buffer("columns", torch.from_numpy(features.columns(groups)))
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.index_select(self.features(x), 1, self.columns))


def build(folder: Path, stem: Path = WEIGHTS_DIR / NAME) -> dict[str, Any]:
    """Write the graph as ``folder/model.onnx``; returns its model card."""
    head, groups, record = load(stem)
    net = AnimalEmbedding(head, groups).eval()
    worst = mobilenet_export.export(net, folder / ONNX_FILE, "embedding")
    dim = head.linear.weight.shape[0]
    card = mobilenet_export.backbone_card(
        NAME, record["summary"], {"name": "embedding", "shape": ["batch", dim], "normalised": "L2"},
        worst)
    fusion = record["fusion"]
    card.update(
        task="animal_identity",
        preprocessing=PREPROCESSING_CARD,
        head={"feature_groups": list(groups), "training": record["training"]},
        training_data=f"{record['training_data']} (head); ImageNet ILSVRC-2012 (backbone)",
        data_terms=f"{record['data_terms']}. {mobilenet_export.IMAGENET_TERMS}",
        identity={"threshold": fusion["distance_threshold"], "fusion": fusion,
                  "local_features": "SIFT (OpenCV), ratio test + RANSAC similarity inliers"},
        metrics={"global_only": record["global_only"], "cross_dataset": record["cross_dataset"]},
    )
    return card
