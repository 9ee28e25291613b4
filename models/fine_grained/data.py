"""Labelled image sets for training a fine-grained head: a ``labels.csv`` with its own split
(flowers17's layout) or any folder-per-class tree, split deterministically.

``labels.csv`` columns: ``filename,class_idx,class_name,repo_split`` (split ``train``/``test``),
images under ``images/``. A folder-per-class tree (``DIR/<class>/*.jpg``) is split by a hash of
each file's path relative to DIR: adding images never moves existing ones between train and
test, and the same tree always gives the same split on any machine.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
TEST_PERCENT = 20  # of each folder-per-class set held out for the accuracy in the card
LABELS_CSV = "labels.csv"


@dataclass(frozen=True)
class LabelledImages:
    classes: list[str]
    train: list[tuple[Path, int]]
    test: list[tuple[Path, int]]
    split: str  # how train/test were chosen, for the model card


def load(data_dir: Path) -> LabelledImages:
    """The set in ``data_dir``: its labels.csv when present, else its class folders."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data folder {data_dir} does not exist")
    if (data_dir / LABELS_CSV).is_file():
        return from_csv(data_dir)
    return from_folders(data_dir)


def from_csv(folder: Path) -> LabelledImages:
    with open(folder / LABELS_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = {int(r["class_idx"]): r["class_name"] for r in rows}
    classes = [names[i] for i in range(len(names))]
    parts: dict[str, list[tuple[Path, int]]] = {"train": [], "test": []}
    for row in rows:
        image = folder / "images" / row["filename"]
        parts[row["repo_split"]].append((image, int(row["class_idx"])))
    return LabelledImages(classes, parts["train"], parts["test"], f"{LABELS_CSV} repo_split")


def from_folders(root: Path) -> LabelledImages:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    train: list[tuple[Path, int]] = []
    test: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        files = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        is_test = [_bucket(p.relative_to(root)) < TEST_PERCENT for p in files]
        held = [p for p, t in zip(files, is_test) if t]
        kept = [p for p, t in zip(files, is_test) if not t]
        if not kept:  # a class with a single image, say: train on it rather than lose it
            kept, held = held, []
        train += [(p, index) for p in kept]
        test += [(p, index) for p in held]
    if len(classes) < 2 or not train:
        raise ValueError(f"{root}: need at least two class folders with images, found {classes}")
    split = f"folder per class; sha1(relative path) % 100 < {TEST_PERCENT} is test"
    return LabelledImages(classes, train, test, split)


def _bucket(relative: Path) -> int:
    return int(hashlib.sha1(relative.as_posix().encode()).hexdigest(), 16) % 100
