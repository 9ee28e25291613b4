"""ZhihuLiveDB split exactly as the original study splits it (``zhihu-live/protocol.txt``).

Rows with ``review_count >= 11`` (5477), the 23 ``features_23`` columns (services/text_quality
/fields.py, same order), target ``review_score``, then scikit-learn's
``train_test_split(random_state=42)`` with its default 25 % test share: 4107 train / 1370
test. File order is kept, because the split depends on it (linear regression, which has no
seed or setting to vary, reproduces the published 0.2366 / 0.3229 to four decimals).

Anything chosen on data (scaling, early stopping, which seed is served) uses TRAIN only; the
validation rows are carved from TRAIN by ``validation_split``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from services.text_quality.fields import FIELD_NAMES

CSV_PATH = Path("zhihu-live") / "zhihu_live.csv"
TARGET = "review_score"
MIN_REVIEWS = 11
SPLIT_SEED = 42
VALIDATION_SEED = 2019  # any fixed value; the same validation rows for every model and seed


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray  # (4107, 23) float64 raw features, FIELD_NAMES order
    y_train: np.ndarray  # (4107,) review scores
    x_test: np.ndarray   # (1370, 23)
    y_test: np.ndarray


def read_rows(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets of every Live with enough reviews, in file order."""
    with open(root / CSV_PATH, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if float(r["review_count"]) >= MIN_REVIEWS]
    features = np.array([[float(r[name]) for name in FIELD_NAMES] for r in rows])
    return features, np.array([float(r[TARGET]) for r in rows])


def load_split(root: Path) -> Split:
    """The study's 4107 / 1370 split of ``root/zhihu-live`` (root = the shared data folder)."""
    features, targets = read_rows(root)
    x_train, x_test, y_train, y_test = train_test_split(features, targets, random_state=SPLIT_SEED)
    return Split(x_train, y_train, x_test, y_test)


def validation_split(count: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) indices into TRAIN: a fixed random ``fraction`` held out."""
    order = np.random.default_rng(VALIDATION_SEED).permutation(count)
    held = round(count * fraction)
    return np.sort(order[held:]), np.sort(order[:held])


def records(features: np.ndarray) -> list[dict[str, float]]:
    """Raw feature rows as records (field name -> value), as a caller of the service sends them."""
    return [dict(zip(FIELD_NAMES, map(float, row))) for row in features]
