"""`xcloud eval beauty`: SCUT-FBP5500 PC / MAE / RMSE, the seed's method beside ours.

- 60/40: ours is the committed head the served ``beauty_scut5500`` is built from (trained on
  train_60 by ``make train-beauty``); the seed's method is fitted on train_60 here.
- 5-fold: both methods refitted on each official fold's training part (the protocol measures
  the recipe, not one model); the mean over the folds is what the benchmark reports.
Every test image counts: a face our detector misses gets the training mean.
With ``limit`` only the committed head runs, on the first ``limit`` test_40 images.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.attributes import data
from models.attributes.export import BEAUTY, WEIGHTS_DIR
from models.attributes.heads import regression_figures
from models.attributes.linear import LinearHead
from models.attributes.pipeline import set_features
from models.attributes.train_beauty import (
    TARGETS,
    fit_ours,
    fit_seed,
    mean_figures,
    predict,
    run_protocol,
    scut_features,
)
from models.evaluation.datasets import data_root
from models.evaluation.publish import publish_metrics

PUBLISHED = {  # the dataset authors' and the seed's figures (README of shared/data)
    "60/40": {"HMT-Net (seed paper)": (0.8783, 0.2501, 0.3263),
              "ResNeXt-50": (0.8777, 0.2518, 0.3325)},
    "5-fold": {"ResNeXt-50": (0.8997, 0.2291, 0.3017)},
}


def evaluate(root: Path, limit: int | None = None) -> dict[str, Any]:
    head = LinearHead.load(WEIGHTS_DIR / BEAUTY)
    protocols = data.scut_protocols(root)
    train_names, test_names = protocols["60/40"][0]
    if limit is not None:
        return {"60/40": {"ours": _slice(root, head, test_names[:limit])}, "test_images": limit}
    sf = scut_features(root)
    train = sf.labelled.index_of(train_names)
    test = sf.labelled.index_of(test_names)
    fallback = float(sf.labelled.score[train[sf.found[train]]].mean())
    ours = regression_figures(sf.labelled.score[test], predict(head, sf, test, fallback))
    seed_folds = run_protocol(sf, protocols["5-fold"], fit_seed)
    our_folds = run_protocol(sf, protocols["5-fold"], fit_ours)
    return {
        "60/40": {"ours": ours, "seed": run_protocol(sf, protocols["60/40"], fit_seed)[0]},
        "5-fold": {"ours": {**mean_figures(our_folds), "pc_per_fold": [f["pc"] for f in our_folds]},
                   "seed": {**mean_figures(seed_folds),
                            "pc_per_fold": [f["pc"] for f in seed_folds]}},
        "faces_missed": int((~sf.found).sum()), "test_images": len(test),
    }


def _slice(root: Path, head: LinearHead, names: list[str]) -> dict[str, float]:
    full = data.scut(root)
    sf = set_features(full.subset(full.index_of(names)), f"scut-fbp5500 test_40[:{len(names)}]",
                      views=2, flip=True)
    rows = np.arange(len(names))
    return regression_figures(sf.labelled.score, predict(head, sf, rows, float(full.score.mean())))


def print_table(figures: dict[str, Any]) -> None:
    print(f"Beauty on SCUT-FBP5500 ({figures['test_images']} test images per 60/40 run)")
    print(f"{'protocol':<8} {'method':<34}{'PC':>8}{'MAE':>8}{'RMSE':>8}  target")
    for protocol, methods in figures.items():
        if protocol not in TARGETS:
            continue
        for method, f in methods.items():
            name = {"ours": "ours: stacked ridge, 4 nets, flip",
                    "seed": "seed: verification net + BR"}[method]
            mark = ""
            if method == "ours":
                verdict = "ok" if f["pc"] >= TARGETS[protocol] else "MISSED"
                mark = f"PC >= {TARGETS[protocol]}  {verdict}"
            print(f"{protocol:<8} {name:<34}{f['pc']:>8.4f}{f['mae']:>8.4f}{f['rmse']:>8.4f}"
                  f"  {mark}")
        for name, (pc, mae, rmse) in PUBLISHED[protocol].items():
            print(f"{protocol:<8} {'published: ' + name:<34}{pc:>8.4f}{mae:>8.4f}{rmse:>8.4f}")


def meets(figures: dict[str, Any]) -> bool:
    return all(figures[p]["ours"]["pc"] >= bound for p, bound in TARGETS.items() if p in figures)


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    figures = evaluate(data_root(data), limit)
    figures["date"] = datetime.date.today().isoformat()
    if write_card and limit is None:
        publish_metrics([BEAUTY], {"beauty": figures})
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    return 0 if meets(figures) else 1
