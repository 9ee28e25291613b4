"""python -m models.text_quality.train [--data DIR]: train MTB-DNN and the study's MLP.

Both are trained with one recipe (training.py) on the protocol's TRAIN rows, five seeds each.
The member served is the one with the lowest validation RMSE (validation rows come from
TRAIN); TEST figures are measured for every seed and recorded, never used to choose. Writes
``weights/<model>.npz`` (the served member, scaling included) and ``weights/<model>.json``
(recipe, per-seed figures, mean and spread); ``make train-content-quality`` runs this.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.evaluation.datasets import data_root
from models.text_quality import network
from models.text_quality.dataset import Split, load_split
from models.text_quality.export import MLP, MTBDNN, WEIGHTS_DIR
from models.text_quality.training import Log, TrainConfig, errors, predict, train

ARCHITECTURES = {MTBDNN: network.BRANCHES, MLP: ()}
DATA = "ZhihuLiveDB (Xu et al., ICMLC 2019), review_count >= 11, protocol split 4107 / 1370"
DATA_TERMS = "ZhihuLiveDB is released for non-commercial research use only; so are these weights."


def train_model(name: str, split: Split, log: Log = print, weights: Path = WEIGHTS_DIR,
                config: TrainConfig | None = None) -> dict[str, Any]:
    """Train, measure and save one model; returns its training record (also written as JSON)."""
    config = config or TrainConfig(branches=ARCHITECTURES[name])
    log(f"{name}: training seeds {list(config.seeds)}")
    trained = train(split.x_train, split.y_train, config, log)
    tests = [errors(s, split.y_test) for s in predict(trained.net, split.x_test)]
    served = int(np.argmin([m["rmse"] for m in trained.validation]))  # validation only
    network.save(trained.net.member(served), weights / f"{name}.npz")
    record = {
        "model": name,
        "architecture": {"trunk": list(network.TRUNK), "branches": list(config.branches)},
        "recipe": config.as_record(),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        "training_data": DATA,
        "data_terms": DATA_TERMS,
        "seeds": [
            {"seed": seed, "best_epoch": epoch, "validation": val, "test": test}
            for seed, epoch, val, test in zip(config.seeds, trained.best_epochs,
                                              trained.validation, tests)
        ],
        "test_mean": _spread(tests, np.mean),
        "test_std": _spread(tests, np.std),
        "served_seed": config.seeds[served],
    }
    (weights / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _spread(figures: list[dict[str, float]], reduce) -> dict[str, float]:
    return {key: float(reduce([f[key] for f in figures])) for key in figures[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="shared data folder (default: $XCLOUD_DATA)")
    args = parser.parse_args(argv)
    split = load_split(data_root(args.data))
    for name in ARCHITECTURES:
        record = train_model(name, split)
        mean, std = record["test_mean"], record["test_std"]
        print(f"{name}: test MAE {mean['mae']:.4f} ± {std['mae']:.4f}, "
              f"RMSE {mean['rmse']:.4f} ± {std['rmse']:.4f} over {len(record['seeds'])} seeds; "
              f"served seed {record['served_seed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
