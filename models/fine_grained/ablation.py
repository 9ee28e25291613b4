"""What each part of the fine-grained recipe brings, measured on flowers17's test split.

Every row trains a head on the same cached features with one change from the full recipe.
Flowers17 is balanced (64 training images per class), so re-balancing is measured on an
imbalanced copy: the training images of every other class cut to 12.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from models.evaluation.datasets import data_root
from models.fine_grained import data as datasets
from models.fine_grained.features import TRAIN_VIEWS
from models.fine_grained.head import HeadConfig, fit
from models.fine_grained.train import accuracy, features_of
from models.mobilenet.net import FEATURE_DIM
from services.fine_grained.preprocess import CENTRE

RARE_IMAGES = 12  # training images kept for every other class in the imbalanced copy


def run_ablation(data: str | None = None) -> list[tuple[str, float]]:
    """Print and return (change, test accuracy) rows."""
    images = datasets.load(data_root(data) / "flowers17")
    train_x, test_x = features_of(images, log=lambda _: None)
    train_y = np.array([c for _, c in images.train])
    test_y = np.array([c for _, c in images.test])
    base = HeadConfig()
    every, centre_only = slice(None), [TRAIN_VIEWS.index(CENTRE)]
    last_layer = slice(train_x.shape[-1] - FEATURE_DIM, None)
    rows = [  # (change, training views, feature columns, head config)
        ("full recipe", every, every, base),
        ("no zoom/flip views (centre crop only)", centre_only, every, base),
        ("no mixup", every, every, replace(base, mixup_alpha=0.0)),
        ("no feature pyramid (last 1280-d only)", every, last_layer, base),
        ("no dropout", every, every, replace(base, dropout=0.0)),
    ]
    results = []
    for change, views, cols, config in rows:
        head = fit(train_x[:, views][..., cols], train_y, len(images.classes), config)
        results.append((change, accuracy(head, test_x[..., cols], test_y)["accuracy"]))
    results += _imbalanced(train_x, train_y, test_x, test_y, len(images.classes), base)
    print(f"{'flowers17 test accuracy (272 images)':<52}{'accuracy':>9}")
    for change, value in results:
        print(f"{change:<52}{value:>9.4f}")
    return results


def _imbalanced(train_x, train_y, test_x, test_y, n_classes, base) -> list[tuple[str, float]]:
    keep = np.ones(len(train_y), bool)
    for c in range(1, n_classes, 2):
        keep[np.flatnonzero(train_y == c)[RARE_IMAGES:]] = False
    rows = []
    for balance in ("none", "weighted", "oversample"):
        head = fit(train_x[keep], train_y[keep], n_classes, replace(base, balance=balance))
        figures = accuracy(head, test_x, test_y)
        rows.append((f"imbalanced copy, balance={balance}: accuracy", figures["accuracy"]))
        rows.append((f"imbalanced copy, balance={balance}: worst class",
                     figures["worst_class_accuracy"]))
    return rows
