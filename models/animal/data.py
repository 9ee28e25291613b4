"""The animal identity sets in ../shared/data (never copied into the repository).

Each reader returns (paths, labels) with labels as the folder names (one folder per animal).
"""
from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# set name -> folder under the data root; the open-set protocols enrol one and query the other
SETS = {
    "holstein_train": "holstein2025/datasets_v2",
    "holstein_gallery": "holstein2025/gallery",
    "holstein_query": "holstein2025/query",
    "opencows_train": "opencows2020/train",
    "opencows_test": "opencows2020/test",
}
PROTOCOLS = {  # protocol -> (enrolled set, queried set)
    "holstein2025": ("holstein_gallery", "holstein_query"),
    "opencows2020": ("opencows_train", "opencows_test"),
}


def folder_per_subject(folder: Path) -> tuple[list[Path], list[str]]:
    """Every image under ``folder/<subject>/``, sorted, with its subject."""
    paths = sorted(p for p in folder.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"no images in {folder}/<subject>/")
    return paths, [p.parent.name for p in paths]


def load_set(root: Path, name: str) -> tuple[list[Path], list[str]]:
    return folder_per_subject(root / SETS[name])
