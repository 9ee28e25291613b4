"""Fit the face identity head on LFW and calibrate its thresholds.

    python -m models.identity.train [--data DIR]   # -> attributes/weights/face_embedding_xcloud.*
    python -m models.build --force face_embedding_xcloud

- Fit: ``projection.fit_projection`` on the LFW people outside a 20 % hash-held-out share; the
  next ``SCUT_PER_GROUP`` faces of each SCUT-FBP5500 train_60 group (not the calibration faces)
  join its PCA as unlabelled faces (chosen on LFW's held-out people and the calibration sets:
  same TAR@1e-3 on LFW, a looser strictest-group threshold, so more genuine LFW pairs pass at
  it; docs/models.md).
- Centre (``models.identity.centering``): the cohort is one face of each fit LFW person plus
  those unlabelled SCUT faces; every embedding below is the centred one the graph serves.
- Calibrate (never on the sets the figures are reported on): the distance at each false-accept
  rate is the smallest of the distances that give that rate on the held-out LFW people's
  impostor pairs and on the impostor pairs within each SCUT-FBP5500 train_60 group (every SCUT
  image is a different person: AF, AM, CF, CM), so the stated FAR holds for every population
  the calibration data has. ``Match.score`` is a logistic fit of same-subject on distance over
  the held-out LFW pairs, classes weighted equally: the probability of a match at even odds.
- Report: ``models.evaluation.identity`` (nuaa-identity, never fitted on, among them).
"""
from __future__ import annotations

import argparse
import datetime
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from models.attributes import data as attribute_data
from models.attributes.export import WEIGHTS_DIR
from models.attributes.linear import LinearHead
from models.attributes.pipeline import Log, path_features, set_features
from models.evaluation.datasets import data_root
from models.identity import metrics
from models.identity.centering import Centering
from models.identity.data import PADS, IdentitySet, shared_set
from models.identity.export import COHORT_FILE, EMBEDDING
from models.identity.projection import ProjectionConfig, embed, fit_projection, subject_split

HELD_OUT_SHARE = 0.2
DEFAULT_FAR = 1e-3
# FaceNet alone: over it the head beat the old one (face-api + faceres features) and FaceNet +
# those features on held-out LFW and on nuaa-identity (docs/models.md, "Every other net").
CONFIG = ProjectionConfig(("facenet.embedding",), pca_dim=256, ridge=3.0)
# The nets whose features are extracted for identity: the head's, and face-api's recognition
# net for the baseline `xcloud eval identity` prints beside it (one cached extraction for both).
IDENTITY_NETS = ("recognition", "facenet")
SCUT_GROUPS = ("AF", "AM", "CF", "CM")
SCUT_PER_GROUP = 300  # 44,850 impostor pairs a group: FAR 1e-3 is 45 of them
# Localized centering (models.identity.centering), chosen on held-out LFW + calibration sets
# among k 10-400 and strength 0.3-1.2 (docs/models.md).
CENTERING_K, CENTERING_STRENGTH = 100, 0.8


@dataclass(frozen=True)
class Faces:
    """One row per image whose face our detector found."""

    x: np.ndarray         # (n, full width) features
    subjects: np.ndarray  # (n,)
    names: np.ndarray     # (n,) subject names


def identity_faces(identity: IdentitySet, log: Log = print) -> Faces:
    got = path_features(identity.paths, identity.name, nets=IDENTITY_NETS,
                        pad=PADS.get(identity.name, 0.1), log=log)
    found = got.found
    names = np.array(identity.names)[identity.subjects[found]]
    return Faces(got.x[found, 0], identity.subjects[found], names)


def scut_groups(root: Path, split: str, log: Log = print, skip: int = 0
                ) -> dict[str, np.ndarray]:
    """SCUT-FBP5500 features of ``SCUT_PER_GROUP`` faces of each group in one official split
    (sorted names, after the first ``skip``: deterministic), per group; undetected faces left
    out."""
    scut = attribute_data.scut(root)
    names = attribute_data.scut_split(root, split)
    picked = [n for g in SCUT_GROUPS
              for n in sorted(n for n in names if n.startswith(g))[skip:skip + SCUT_PER_GROUP]]
    part = scut.subset(scut.index_of(picked))
    tag = f"scut-fbp5500-{split}" + (f"-from-{skip}" if skip else "")
    sf = set_features(part, tag, views=1, flip=False, nets=IDENTITY_NETS, log=log)
    return {g: sf.x[[i for i, p in enumerate(part.paths) if p.name.startswith(g) and sf.found[i]]]
            for g in SCUT_GROUPS}


def calibration_impostors(head: LinearHead, centering: Centering | None,
                          held_out: metrics.PairDistances, scut: dict[str, np.ndarray]
                          ) -> dict[str, np.ndarray]:
    """Impostor distances per calibration set: held-out LFW's and each SCUT group's."""
    sets = {"lfw_held_out": held_out.impostor}
    for group, x in scut.items():
        distances = metrics.pair_distances(embed(head, x, centering), np.arange(len(x)))
        sets[f"scut_train_60_{group}"] = distances.impostor
    return sets


def thresholds(impostors: dict[str, np.ndarray]) -> dict[str, float]:
    """Per FAR: the strictest of the per-set distances (see module doc)."""
    return {f"{far:g}": min(metrics.threshold_at(d, far) for d in impostors.values())
            for far in (1e-2, 1e-3, 1e-4)}


def score_calibration(pairs: metrics.PairDistances) -> dict[str, float]:
    """p(same | distance) = 1 / (1 + exp(-(a + b * distance))), equal class weights."""
    d = np.concatenate([pairs.genuine, pairs.impostor])[:, None]
    y = np.r_[np.ones(len(pairs.genuine)), np.zeros(len(pairs.impostor))]
    model = LogisticRegression(class_weight="balanced").fit(d, y)
    return {"a": float(model.intercept_[0]), "b": float(model.coef_[0, 0])}


def train(data_dir: str | None = None, log: Log = print, scut: bool = True) -> LinearHead:
    """``scut``: also calibrate on SCUT-FBP5500 train_60's groups (extracts its features)."""
    root = data_root(data_dir)
    lfw = identity_faces(shared_set(root, "lfw-identity"), log)
    held = subject_split(lfw.names, HELD_OUT_SHARE)
    fit, val = (Faces(lfw.x[m], lfw.subjects[m], lfw.names[m]) for m in (~held, held))
    unlabelled = None
    if scut:
        pca_faces = scut_groups(root, "train_60", log, skip=SCUT_PER_GROUP)
        unlabelled = np.concatenate(list(pca_faces.values()))
    head = fit_projection(fit.x, fit.subjects, CONFIG, unlabelled)
    centering = cohort_centering(head, fit, unlabelled)
    calibration = scut_groups(root, "train_60", log) if scut else {}
    val_pairs = metrics.pair_distances(embed(head, val.x, centering), val.subjects)
    impostors = calibration_impostors(head, centering, val_pairs, calibration)
    table = thresholds(impostors)
    head.record.update({
        "training_data": training_data(fit, val, unlabelled),
        "centering": centering.describe(),
        "calibration_sets": sorted(impostors),
        "trained": datetime.date.today().isoformat(),
        "identity": identity_block(table, score_calibration(val_pairs)),
    })
    head.save(WEIGHTS_DIR / EMBEDDING)
    centering.save(WEIGHTS_DIR / COHORT_FILE)
    log(f"thresholds by FAR: {table}; wrote {WEIGHTS_DIR / EMBEDDING}.npz/.json, {COHORT_FILE}")
    return head


def cohort_centering(head: LinearHead, fit: Faces, unlabelled: np.ndarray | None) -> Centering:
    """The cohort: one face of each LFW person the head was fitted on, plus the unlabelled
    SCUT faces of its PCA (never a calibration or reported face)."""
    _, first = np.unique(fit.subjects, return_index=True)
    faces = fit.x[np.sort(first)] if unlabelled is None else np.concatenate(
        [unlabelled, fit.x[np.sort(first)]])
    return Centering.of(embed(head, faces), CENTERING_K, CENTERING_STRENGTH)


def training_data(fit: Faces, val: Faces, unlabelled: np.ndarray | None) -> str:
    """The card's account of what the head was fitted and calibrated on."""
    people = f"LFW (lfw-identity): {len(np.unique(fit.subjects))} people, {len(fit.x)} faces"
    calibration = f"calibration: {len(np.unique(val.subjects))} held-out LFW people"
    if unlabelled is None:
        return f"{people}; {calibration}"
    return (f"{people}, + {len(unlabelled)} SCUT-FBP5500 train_60 faces in the PCA; "
            f"{calibration} + SCUT-FBP5500 train_60 impostor pairs per group")


def identity_block(table: dict[str, float], score: dict[str, float]) -> dict[str, Any]:
    return {
        "metric": "euclidean distance between L2-normalised embeddings",
        "target_far": DEFAULT_FAR, "threshold": table[f"{DEFAULT_FAR:g}"],
        "thresholds_by_far": table, "score": score,
        "score_meaning": "p(same subject | distance) at even prior odds: "
                         "1 / (1 + exp(-(a + b * distance)))",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fit and calibrate the face identity head.")
    parser.add_argument("--data", default=None, help="shared data root (default: $XCLOUD_DATA "
                        "or ../shared/data)")
    parser.add_argument("--without-scut", action="store_true", help="calibrate on LFW's "
                        "held-out people alone (skips SCUT-FBP5500's feature extraction)")
    args = parser.parse_args(argv)
    train(args.data, scut=not args.without_scut)
    return 0


if __name__ == "__main__":
    sys.exit(main())
