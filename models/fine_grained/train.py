"""Train a fine-grained head on frozen MobileNetV2 features.

    python -m models.fine_grained.train                 # flowers17 -> models/fine_grained/weights/
    python -m models.fine_grained.train --ablation      # what each part of the recipe brings
    xcloud train fine-grained --data DIR [--name NAME]  # any set -> models/repository/NAME/<n+1>/

``train()`` takes a folder-per-class tree or a ``labels.csv`` set (see data.py), trains the head
(head.py), measures test accuracy and writes a new model version: backbone and head as one
ONNX graph with the classes in its card.
"""
from __future__ import annotations

import argparse
import datetime
import functools
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from models import build
from models.evaluation.datasets import data_root
from models.fine_grained import data as datasets
from models.fine_grained.export import FLOWERS17, WEIGHTS_DIR, build_classifier, save_head
from models.fine_grained.features import EVAL_VIEWS, PYRAMID_LAYERS, TRAIN_VIEWS, extract
from models.fine_grained.head import Head, HeadConfig, fit, predict

Log = Callable[[str], None]
FLOWERS17_TERMS = ("Oxford 17 Category Flower Dataset (Nilsback & Zisserman): non-commercial "
                   "research use only.")


def features_of(
    images: datasets.LabelledImages, log: Log = print
) -> tuple[np.ndarray, np.ndarray | None]:
    """Cached (train: every augmented view, test: the centre crop, if any) features."""
    def progress(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            log(f"  features {done}/{total}")

    train = extract([p for p, _ in images.train], TRAIN_VIEWS, progress=progress)
    test = extract([p for p, _ in images.test], EVAL_VIEWS) if images.test else None
    return train, test


def accuracy(head: Head, features: np.ndarray | None, labels: np.ndarray) -> dict[str, Any]:
    """Top-1 / top-5 accuracy and the worst class on held-out images (centre crop)."""
    if features is None or not len(labels):
        return {}
    probabilities = predict(head, features)
    ranked = np.argsort(-probabilities, axis=1)
    hit = ranked[:, 0] == labels
    per_class = [float(hit[labels == c].mean()) for c in np.unique(labels)]
    return {"accuracy": float(hit.mean()), "images": len(labels),
            "top5_accuracy": float((ranked[:, :5] == labels[:, None]).any(axis=1).mean()),
            "worst_class_accuracy": min(per_class)}


def train_head(
    images: datasets.LabelledImages, config: HeadConfig | None = None, log: Log = print
) -> tuple[Head, dict[str, Any]]:
    """Fit the head; returns it with its test figures."""
    config = config or HeadConfig()
    train_x, test_x = features_of(images, log)
    train_y = np.array([c for _, c in images.train])
    test_y = np.array([c for _, c in images.test])
    head = fit(train_x, train_y, len(images.classes), config)
    figures = accuracy(head, test_x, test_y)
    log(f"  test: {figures}")
    return head, figures


def record_for(images: datasets.LabelledImages, config: HeadConfig, figures: dict[str, Any],
               training_data: str, data_terms: str, summary: str) -> dict[str, Any]:
    """The head's training record: what the model card says about classes, data and quality."""
    return {
        "classes": images.classes,
        "summary": summary,
        "training": {**asdict(config), "views": len(TRAIN_VIEWS), "split": images.split,
                     "train_images": len(images.train), "date": datetime.date.today().isoformat()},
        "training_data": training_data,
        "data_terms": data_terms,
        "metrics": {"test": figures} if figures else {},
    }


def train(
    data_dir: str | Path, name: str, repository: Path = build.REPOSITORY,
    config: HeadConfig | None = None, data_terms: str = "", log: Log = print,
) -> Path:
    """Train on ``data_dir`` and write ``repository/name/<n+1>/``; returns that folder."""
    config = config or HeadConfig()
    images = datasets.load(Path(data_dir))
    log(f"{name}: {len(images.classes)} classes, {len(images.train)} train / "
        f"{len(images.test)} test images ({images.split})")
    head, figures = train_head(images, config, log)
    record = record_for(
        images, config, figures, f"{Path(data_dir).resolve()} ({images.split})",
        data_terms or "Supplied by whoever trained this version; its terms were not recorded.",
        f"MobileNetV2 + head trained on {Path(data_dir).name}: {len(images.classes)} classes.",
    )
    version = str(max((int(v) for v in _versions(repository / name)), default=0) + 1)
    builder = build.ModelBuilder(name, version, functools.partial(
        _versioned, name=name, version=version, head=head, record=record))
    build.build_one(builder, repository, force=True)
    log(f"{name}: wrote version {version} to {repository / name / version}")
    return repository / name / version


def _versioned(folder: Path, name: str, version: str, head: Head, record: dict) -> dict:
    return {**build_classifier(folder, name, head, PYRAMID_LAYERS, record), "version": version}


def _versions(folder: Path) -> list[str]:
    return [d.name for d in folder.iterdir() if d.name.isdigit()] if folder.is_dir() else []


def train_flowers17(data: str | None = None, log: Log = print) -> dict[str, Any]:
    """Reproduce the committed head ``models/fine_grained/weights/flowers17_mobilenet_v2``."""
    images = datasets.load(data_root(data) / "flowers17")
    config = HeadConfig()
    head, figures = train_head(images, config, log)
    record = record_for(
        images, config, figures, "flowers17 (Oxford 17 flowers), labels.csv repo_split train",
        FLOWERS17_TERMS, "MobileNetV2 + feature-pyramid head: 17 flower species (Oxford 17).",
    )
    save_head(head, PYRAMID_LAYERS, record, WEIGHTS_DIR / FLOWERS17)
    log(f"wrote {WEIGHTS_DIR / FLOWERS17}.npz/.json; rebuild with "
        f"`python -m models.build --force {FLOWERS17}`")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train a fine-grained head on MobileNetV2.")
    parser.add_argument("--data", default=None,
                        help="with --name: the set to train on; else the shared data root "
                        "holding flowers17/ (default: $XCLOUD_DATA or ../shared/data)")
    parser.add_argument("--name", default=None,
                        help="train on --data and write models/repository/NAME/<n+1>/")
    parser.add_argument("--ablation", action="store_true",
                        help="measure what each part of the recipe brings on flowers17")
    args = parser.parse_args(argv)
    if args.ablation:
        from models.fine_grained.ablation import run_ablation

        run_ablation(args.data)
        return 0
    if args.name:
        if not args.data:
            parser.error("--name needs --data DIR")
        train(args.data, args.name)
        return 0
    train_flowers17(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
