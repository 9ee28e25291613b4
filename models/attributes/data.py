"""Labelled sets for the attribute heads: SCUT-FBP5500 (beauty, gender, Asian/Caucasian) and
UTKFace (race, gender), read from ../shared/data (never copied into the repository).
UTKFace's split is the project's one (``models.evaluation.datasets.utk_is_test``)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UTK_RACES = ("White", "Black", "Asian", "Indian", "Others")
GENDERS = ("male", "female")
SCUT_FOLDS = 5


@dataclass(frozen=True)
class LabelledSet:
    """Images with their labels, in a fixed order (sorted file names)."""

    paths: list[Path]
    score: np.ndarray   # beauty 1..5 (SCUT) or NaN (UTKFace)
    gender: np.ndarray  # 0 male, 1 female
    race: np.ndarray    # UTKFace's index (White 0, Asian 2 on SCUT)
    age: np.ndarray     # years (UTKFace) or NaN (SCUT)

    def subset(self, rows: np.ndarray) -> LabelledSet:
        return LabelledSet([self.paths[i] for i in rows], self.score[rows], self.gender[rows],
                           self.race[rows], self.age[rows])

    def index_of(self, names: list[str]) -> np.ndarray:
        where = {p.name: i for i, p in enumerate(self.paths)}
        return np.array([where[n] for n in names], dtype=np.int64)


def scut(root: Path) -> LabelledSet:
    """SCUT-FBP5500: score from all_labels.txt; gender and race from the name's prefix."""
    folder = root / "scut-fbp5500"
    scores = dict(_read_split(folder / "all_labels.txt"))
    names = sorted(scores)
    return LabelledSet(
        paths=[folder / "images" / n for n in names],
        score=np.array([scores[n] for n in names], np.float64),
        gender=np.array([n[1] == "F" for n in names], np.int64),
        race=np.array([UTK_RACES.index("Asian" if n[0] == "A" else "White") for n in names],
                      np.int64),
        age=np.full(len(names), np.nan),
    )


def _read_split(path: Path) -> list[tuple[str, float]]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return [(name, float(score)) for name, score in rows]


def scut_split(root: Path, name: str) -> list[str]:
    """File names of an official split file, e.g. "train_60", "test_40", "fold3_test"."""
    return [n for n, _ in _read_split(root / "scut-fbp5500" / "splits" / f"{name}.txt")]


def scut_protocols(root: Path) -> dict[str, list[tuple[list[str], list[str]]]]:
    """The official protocols: "60/40" (one split) and "5-fold" (five train/test pairs)."""
    folds = [(scut_split(root, f"fold{k}_train"), scut_split(root, f"fold{k}_test"))
             for k in range(1, SCUT_FOLDS + 1)]
    return {"60/40": [(scut_split(root, "train_60"), scut_split(root, "test_40"))], "5-fold": folds}


def balanced(labelled: LabelledSet, rows: np.ndarray, per_race: int) -> np.ndarray:
    """At most ``per_race`` of ``rows`` per race, in a stable order (sha256 of the file name):
    UTKFace holds 3.8 White faces for each Other, and a head trained on that mix spends its
    errors on the rarer groups."""
    order = sorted(rows, key=lambda i: hashlib.sha256(labelled.paths[i].name.encode()).hexdigest())
    taken: dict[int, list[int]] = {}
    for i in order:
        group = taken.setdefault(int(labelled.race[i]), [])
        if len(group) < per_race:
            group.append(int(i))
    return np.array(sorted(i for group in taken.values() for i in group), np.int64)


def utkface(root: Path) -> LabelledSet:
    """UTKFace aligned-cropped: ``AGE_GENDER_RACE_DATETIME.jpg.chip.jpg``; malformed names
    skipped."""
    paths, gender, race, age = [], [], [], []
    for path in sorted((root / "utkface" / "images").glob("*.jpg")):
        parts = path.name.split("_")
        if len(parts) < 4 or not (parts[1].isdigit() and parts[2].isdigit()):
            continue  # a few release files lack a field; their labels are unknown
        paths.append(path)
        gender.append(int(parts[1]))
        race.append(int(parts[2]))
        age.append(float(parts[0]))
    return LabelledSet(paths, np.full(len(paths), np.nan), np.array(gender), np.array(race),
                       np.array(age))
