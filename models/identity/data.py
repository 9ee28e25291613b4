"""Folder-per-subject identity sets (``DIR/<subject>/<image>``) read from ../shared/data or a
user's own folder; nothing is copied into the repository."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Detection border per set, as a share of the image side: LFW's crops are tight (forehead to
# chin), and MTCNN misplaces the points of a face that fills the frame.
PADS = {"lfw-identity": 0.25, "nuaa-identity": 0.0}


@dataclass(frozen=True)
class IdentitySet:
    name: str
    paths: list[Path]
    subjects: np.ndarray  # (n,) int: index into ``names``
    names: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, rows: np.ndarray) -> IdentitySet:
        return IdentitySet(self.name, [self.paths[i] for i in rows], self.subjects[rows],
                           self.names)


def folder_set(folder: Path, name: str | None = None) -> IdentitySet:
    """Every image under ``folder/<subject>/``, subjects and images in sorted order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of <subject>/<image> folders")
    paths, subjects, names = [], [], []
    for subject_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        images = sorted(p for p in subject_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            continue
        names.append(subject_dir.name)
        paths += images
        subjects += [len(names) - 1] * len(images)
    return IdentitySet(name or folder.name, paths, np.array(subjects, np.int64), names)


def shared_set(root: Path, name: str) -> IdentitySet:
    """``lfw-identity`` or ``nuaa-identity`` from the shared data root."""
    return folder_set(root / name / "images", name)
