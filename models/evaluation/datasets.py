"""Readers for the labelled sets in ../shared/data (never copied into the repository)."""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]

# SCUT-FBP5500's 86-point scheme: 42-49 outline the eye on the image's left (the subject's
# right eye), 50-57 the other eye; 58 and 59 are the pupils. An eye centre is the mean of its
# 8 outline points, which is what MTCNN's eye landmark approximates.
SCUT_IMAGE_LEFT_EYE = slice(42, 50)
SCUT_IMAGE_RIGHT_EYE = slice(50, 58)


# UTKFace has no official split: a file is in the test split when the first 8 hex digits of
# the sha256 of its name, as a fraction of 16**8, fall below this share. Stable everywhere.
UTK_TEST_SHARE = 0.2


def utk_is_test(path: Path) -> bool:
    return int(hashlib.sha256(path.name.encode()).hexdigest()[:8], 16) / 16**8 < UTK_TEST_SHARE


class DataMissing(RuntimeError):
    """The labelled data set is not on this machine."""


def data_root(explicit: str | Path | None = None) -> Path:
    """--data, else $XCLOUD_DATA, else ../shared/data beside the repository."""
    root = Path(explicit or os.environ.get("XCLOUD_DATA") or REPO_ROOT.parent / "shared" / "data")
    if not root.is_dir():
        raise DataMissing(f"labelled data not found at {root}; pass --data or set XCLOUD_DATA")
    return root


@dataclass(frozen=True)
class ScutFace:
    path: Path
    subject_left_eye: np.ndarray   # (2,) in image pixels
    subject_right_eye: np.ndarray


def scut_faces(root: Path) -> list[ScutFace]:
    """Every SCUT-FBP5500 image with labelled eye centres (CM152 has none and is skipped)."""
    folder = root / "scut-fbp5500"
    marks = np.load(folder / "landmarks_86.npz")
    faces = []
    for name, points in zip(marks["names"], marks["points"]):
        if np.isnan(points).any():
            continue
        faces.append(ScutFace(
            path=folder / "images" / str(name),
            subject_left_eye=points[SCUT_IMAGE_RIGHT_EYE].mean(axis=0),
            subject_right_eye=points[SCUT_IMAGE_LEFT_EYE].mean(axis=0),
        ))
    return faces


def flowers17_images(root: Path) -> list[Path]:
    folder = root / "flowers17"
    with open(folder / "labels.csv", newline="") as handle:
        return [folder / "images" / row["filename"] for row in csv.DictReader(handle)]
