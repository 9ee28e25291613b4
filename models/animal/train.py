"""Train the animal embedding head: ``python -m models.animal.train [--data DIR] [--runs]``.

Training data: holstein2025 ``datasets_v2`` (82 cows, faces) and opencows2020 ``train`` (46
cows, top-down coats), frozen MobileNetV2 features cached by ``models.animal.features``.
``--runs`` also trains the cross-dataset heads (holstein only, opencows only) and prints
every head's global-only figures on both open-set protocols; the served head (both sets) is
written to ``models/animal/weights/`` with its fusion calibration (``models.animal.fusion``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np
import torch

from models.animal import data, features, fusion
from models.animal.head import EmbeddingHead, TrainConfig, embed, load, save, train_head
from models.animal.protocol import rank_k, subject_distances
from models.evaluation.datasets import data_root

# Feature groups of the served head, chosen on held-out holstein cows (see fusion.HELD_OUT)
# between three documented options: last block only, all pooled blocks, pooled + grids.
GROUP_OPTIONS = {
    "last": ("gap18",),
    "pooled": ("gap13", "gap16", "gap17", "gap18"),
    "pooled+grids": ("gap13", "gap16", "gap17", "gap18", "grid17", "grid18"),
}
TRAIN_SETS = {"both": ("holstein_train", "opencows_train"), "holstein": ("holstein_train",),
              "opencows": ("opencows_train",)}


def windows_of(name: str) -> tuple:
    return features.TRAIN_WINDOWS if name == "opencows_train" else features.EVAL_WINDOWS


def training_rows(root: Path, sets: tuple[str, ...], groups: tuple[str, ...],
                  exclude: set[str] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
    """Every (image, window) feature row of ``sets`` and its animal's integer label."""
    columns, rows, labels, names = features.columns(groups), [], [], {}
    for name in sets:
        paths, subjects = data.load_set(root, name)
        cached = features.extract(paths, windows_of(name))
        for row, subject in zip(cached, subjects):
            if subject in exclude:
                continue
            label = names.setdefault(f"{name}/{subject}", len(names))
            rows.append(row[:, columns])
            labels += [label] * len(row)
    return np.concatenate(rows).astype(np.float32), np.array(labels)


def protocol_vectors(root: Path, head: EmbeddingHead, groups, name: str):
    paths, subjects = data.load_set(root, name)
    rows = features.extract(paths, windows_of(name))[:, 0][:, features.columns(groups)]
    return embed(head, rows), subjects


def global_figures(root: Path, head: EmbeddingHead, groups) -> dict[str, dict[str, float]]:
    out = {}
    for protocol, (enrolled, queried) in data.PROTOCOLS.items():
        gallery, labels = protocol_vectors(root, head, groups, enrolled)
        queries, truth = protocol_vectors(root, head, groups, queried)
        distances, subjects = subject_distances(gallery, labels, queries)
        out[protocol] = {f"rank{k}": rank_k(-distances, subjects, truth, k) for k in (1, 5)}
    return out


def train(root: Path, sets: tuple[str, ...], groups, config: TrainConfig,
          exclude: set[str] = frozenset()) -> EmbeddingHead:
    x, y = training_rows(root, sets, groups, exclude)
    return train_head(x, y, config, log=print)


def recalibrate(root: Path, config: TrainConfig) -> int:
    head, groups, record = load()
    held_out = set(fusion.held_out_cows(root))
    calibration_head = train(root, TRAIN_SETS["both"], groups, config, held_out)
    record["fusion"] = fusion.calibrate(root, groups, calibration_head)
    print(json.dumps(record["fusion"]))
    save(head, groups, {k: v for k, v in record.items() if k != "groups"})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--groups", choices=sorted(GROUP_OPTIONS), default="pooled")
    parser.add_argument("--runs", action="store_true", help="cross-dataset runs too")
    parser.add_argument("--recalibrate", action="store_true",
                        help="keep the committed head, refit only its fusion calibration")
    args = parser.parse_args(argv)
    root, groups, config = data_root(args.data), GROUP_OPTIONS[args.groups], TrainConfig()
    torch.set_num_threads(1)  # 2 shared cores: a second thread only spins
    if args.recalibrate:
        return recalibrate(root, config)
    runs = {}
    for run in (("holstein", "opencows") if args.runs else ()):
        run_head = train(root, TRAIN_SETS[run], groups, config)
        runs[f"train_{run}_only"] = global_figures(root, run_head, groups)
        print(run, runs[f"train_{run}_only"])
    start = time.perf_counter()
    head = train(root, TRAIN_SETS["both"], groups, config)
    held_out = set(fusion.held_out_cows(root))
    calibration_head = train(root, TRAIN_SETS["both"], groups, config, held_out)
    calibration = fusion.calibrate(root, groups, calibration_head)
    record = {
        "summary": "Animal re-identification embedding: ArcFace-trained linear projection "
                   f"({config.dim}-d, L2-normalised) of frozen MobileNetV2 ImageNet features.",
        "training_data": "holstein2025 datasets_v2 (82 cows, 3,621 face crops) + opencows2020 "
                         "train (46 cows, 460 top-down crops x 5 windows)",
        "data_terms": "research use / non-commercial (holstein2025: research use; opencows2020: "
                      "non-commercial)",
        "training": {**config.__dict__, "loss": "ArcFace additive angular margin",
                     "seconds": round(time.perf_counter() - start, 1)},
        "feature_groups_option": args.groups, "fusion": calibration,
        "cross_dataset": runs, "global_only": global_figures(root, head, groups),
        "trained": datetime.date.today().isoformat(),
    }
    print(json.dumps(record["global_only"]), json.dumps(calibration))
    save(head, groups, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
