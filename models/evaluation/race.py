"""`xcloud eval race`: the committed ``race_utkface`` head on UTKFace's held-out part (5 classes,
per class too) and on SCUT-FBP5500's test_40 (Asian vs Caucasian, the seed's task: HMT-Net
99.26 %). A face our detector misses counts as wrong. ``limit`` caps each test part."""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from models.attributes.classify import TASKS, evaluate_head, load_sets
from models.attributes.export import WEIGHTS_DIR
from models.attributes.linear import LinearHead
from models.evaluation.datasets import data_root
from models.evaluation.fairness import format_table
from models.evaluation.publish import publish_metrics

TARGETS = {"scut_test_40_asian_vs_caucasian": 0.993}


def evaluate(root: Path, limit: int | None = None) -> dict[str, Any]:
    task = TASKS["race"]
    head = LinearHead.load(WEIGHTS_DIR / task.model)
    return evaluate_head(task, head, load_sets(root, limit=limit))


def print_table(figures: dict[str, Any]) -> None:
    print(f"Race ({figures['utkface_test_images']} UTKFace test, {figures['scut_test_images']} "
          f"SCUT-FBP5500 test_40 images; our detector misses {figures['scut_test_faces_missed']} "
          "of those, each counted wrong)")
    print(f"{'metric':<40}{'accuracy':>10}  target")
    for name in ("utkface_test", "scut_test_40", "scut_test_40_asian_vs_caucasian"):
        mark = f">= {TARGETS[name]}  {'ok' if figures[name] >= TARGETS[name] else 'MISSED'}" \
            if name in TARGETS else ""
        print(f"{name:<40}{figures[name]:>10.4f}  {mark}")
    for label, value in figures["utkface_test_per_class"].items():
        print(f"{'  utkface_test ' + label:<40}{value:>10.4f}")
    print(f"{'published: HMT-Net SCUT race':<40}{0.9926:>10.4f}")
    print(format_table("race accuracy", figures["utkface_by_group"]))


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    figures = evaluate(data_root(data), limit)
    figures["date"] = datetime.date.today().isoformat()
    if write_card and limit is None:
        publish_metrics([TASKS["race"].model], {"race": figures})
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    return 0 if all(figures[n] >= bound for n, bound in TARGETS.items()) else 1
