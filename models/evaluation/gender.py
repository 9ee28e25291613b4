"""`xcloud eval gender`: gender accuracy on SCUT-FBP5500's test_40 (HMT-Net: 98.16 %) and on
UTKFace's held-out part, for face-api's net (``faceapi_age_gender``, at the framing the
face_attributes service gives it) beside our trained ``gender_xcloud`` head. Both see the same
crops of our detector's faces; a missed face counts as wrong. ``limit`` caps each test part."""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.attributes.classify import TASKS, accuracies, evaluate_head, faceapi_gender, load_sets
from models.attributes.export import WEIGHTS_DIR
from models.attributes.linear import LinearHead
from models.evaluation.datasets import data_root
from models.evaluation.fairness import format_table
from models.evaluation.publish import publish_metrics
from xcloud import names

TARGET = 0.982  # on SCUT-FBP5500 test_40, by the served gender model
FACEAPI = names.FACEAPI_AGE_GENDER


def evaluate(root: Path, limit: int | None = None) -> dict[str, Any]:
    task = TASKS["gender"]
    sets = load_sets(root, limit=limit)
    probabilities = {"utkface": faceapi_gender(sets.utk, sets.utk_test),
                     "scut": faceapi_gender(sets.scut, sets.scut_test)}
    figures = {FACEAPI: accuracies(task, {k: np.log(v) for k, v in probabilities.items()}, sets)}
    stem = WEIGHTS_DIR / task.model
    if stem.with_suffix(".npz").is_file():
        figures[task.model] = evaluate_head(task, LinearHead.load(stem), sets)
    return figures


def print_table(figures: dict[str, Any]) -> None:
    print(f"{'model':<20}{'SCUT test_40':>14}{'UTKFace test':>14}  target (SCUT) >= {TARGET}")
    for model, f in figures.items():
        if isinstance(f, dict):
            mark = "ok" if f["scut_test_40"] >= TARGET else "MISSED"
            print(f"{model:<20}{f['scut_test_40']:>14.4f}{f['utkface_test']:>14.4f}  {mark}")
    print(f"{'published: HMT-Net':<20}{0.9816:>14.4f}")
    for model, f in figures.items():
        if isinstance(f, dict):
            print(format_table(f"{model} gender accuracy", f["utkface_by_group"]))


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    figures = evaluate(data_root(data), limit)
    figures["date"] = datetime.date.today().isoformat()
    if write_card and limit is None:  # face-api's figures ride along as the baseline
        served = TASKS["gender"].model if TASKS["gender"].model in figures else FACEAPI
        publish_metrics([served], {"gender": figures})
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    best = max(f["scut_test_40"] for f in figures.values() if isinstance(f, dict))
    return 0 if best >= TARGET else 1
