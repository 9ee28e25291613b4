"""Train the age head of the face trunk on UTKFace's training part (balanced by race), and
keep it only if it beats face-api's own age layer read off the same trunk.

    python -m models.attributes.train_age [--data DIR]   # -> weights/age_xcloud.{npz,json}
    python -m models.build --force face_trunk_xcloud

Recipe: the beauty head's (``stacked_ridge``: one ridge per feature-group set, penalty by exact
leave-one-out, NNLS blend), on age in years. Figures: MAE on UTKFace's test part, overall and
per race x gender group.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

import numpy as np

from models.attributes.classify import UTK_PER_RACE, utk_sets
from models.attributes.heads import stacked_ridge
from models.attributes.linear import LinearHead
from models.attributes.pipeline import Log, SetFeatures
from models.attributes.train_beauty import GROUP_SETS
from models.attributes.trunk import AGE, WEIGHTS_DIR, faceapi_age_head
from models.evaluation.datasets import data_root
from models.evaluation.fairness import format_table, group_table

TARGET_MAE, TARGET_GROUP_MAE = 4.65, 6.0  # DeepFace's published MAE; the group bound


def age_figures(head: LinearHead, sf: SetFeatures, rows: np.ndarray) -> dict[str, Any]:
    """MAE on ``rows`` (faces our detector missed are left out and counted)."""
    found = rows[sf.found[rows]]
    error = np.abs(head.predict(sf.x[found])[:, 0] - sf.labelled.age[found])
    table = group_table(sf.labelled.race[found], sf.labelled.gender[found],
                        lambda group: float(error[group].mean()), False)
    return {"mae": float(error.mean()), "within_5_years": float((error <= 5).mean()),
            "test_faces": len(found), "faces_missed": int(len(rows) - len(found)),
            "by_group": table}


def train(data_dir: str | None = None, log: Log = print) -> dict[str, Any]:
    sf, train_rows, test_rows = utk_sets(data_root(data_dir), log)
    rows = train_rows[sf.found[train_rows]]
    ours = stacked_ridge(sf.x[rows], sf.labelled.age[rows], GROUP_SETS)
    figures = {"xcloud": age_figures(ours, sf, test_rows),
               "faceapi_on_trunk": age_figures(faceapi_age_head(), sf, test_rows)}
    for name, fig in figures.items():
        log(f"age {name}: MAE {fig['mae']:.3f} on {fig['test_faces']} faces")
        log(format_table(f"age MAE ({name})", fig["by_group"], " y"))
    ours.record.update({
        "training_data": f"UTKFace aligned-cropped, hash split train part, at most "
                         f"{UTK_PER_RACE} per race ({len(rows)} faces), re-encoded at JPEG 75",
        "trained": datetime.date.today().isoformat(),
        "metrics": {"utkface_test": figures["xcloud"],
                    "faceapi_on_trunk_utkface_test": figures["faceapi_on_trunk"]},
    })
    if figures["xcloud"]["mae"] < figures["faceapi_on_trunk"]["mae"]:
        ours.save(WEIGHTS_DIR / AGE)
        log(f"wrote {WEIGHTS_DIR / AGE}.npz/.json (it beats face-api's age layer)")
    else:
        log("face-api's age layer is better: nothing written, the trunk keeps it")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the face trunk's age head on UTKFace.")
    parser.add_argument("--data", default=None, help="shared data root (default: $XCLOUD_DATA "
                        "or ../shared/data)")
    train(parser.parse_args(argv).data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
