"""Per-group figures on UTKFace's test part: race x gender, with each group's count and the
worst group named (the table `xcloud eval race|gender|age` prints and the cards carry)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from models.attributes.data import GENDERS, UTK_RACES

Metric = Callable[[np.ndarray], float]  # rows of one group -> its figure


def group_table(race: np.ndarray, gender: np.ndarray, metric: Metric,
                higher_is_better: bool) -> dict[str, Any]:
    """``{"groups": {"White female": {"n": .., "value": ..}, ...}, "worst": name, "worst_value"}``
    over every race x gender group with at least one row."""
    groups: dict[str, dict[str, float]] = {}
    for r, race_name in enumerate(UTK_RACES):
        for g, gender_name in enumerate(GENDERS):
            rows = np.flatnonzero((race == r) & (gender == g))
            if len(rows):
                groups[f"{race_name} {gender_name}"] = {"n": len(rows),
                                                       "value": float(metric(rows))}
    pick = min if higher_is_better else max
    worst = pick(groups, key=lambda k: groups[k]["value"])
    return {"groups": groups, "worst": worst, "worst_value": groups[worst]["value"]}


def format_table(title: str, table: dict[str, Any], unit: str = "") -> str:
    lines = [f"{title} by race x gender (UTKFace test part)", f"  {'group':<18} {'n':>5}  value"]
    for name, row in table["groups"].items():
        lines.append(f"  {name:<18} {row['n']:>5}  {row['value']:.4f}{unit}")
    lines.append(f"  worst: {table['worst']} ({table['worst_value']:.4f}{unit})")
    return "\n".join(lines)
