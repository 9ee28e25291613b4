"""Race and gender heads: trained on UTKFace's training part plus SCUT-FBP5500's train_60,
measured on UTKFace's test part and SCUT-FBP5500's test_40.

UTKFace has no official split: an image is test when the sha256 of its file name falls in the
first ``UTK_TEST_SHARE`` of the hash range (``models.evaluation.datasets.utk_is_test``, the
project's one split), the rest is training. Its chips are bordered by ``UTKFACE_PAD`` for
detection, as the face-api evaluations do. SCUT-FBP5500 adds frontal Asian and Caucasian
faces of both genders (train_60 only). A face our detector misses is left out of training and
counts as wrong in every accuracy.
"""
from __future__ import annotations

import argparse
import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from models.attributes import data
from models.attributes.export import GENDER, RACE, WEIGHTS_DIR
from models.attributes.features import face_crop, nets_of, to_input, width
from models.attributes.heads import logistic
from models.attributes.linear import LinearHead
from models.attributes.pipeline import Log, SetFeatures, set_features, utk_set_features
from models.evaluation.datasets import UTK_TEST_SHARE, data_root, utk_is_test
from models.evaluation.fairness import group_table
from models.faceapi.evaluation import UTKFACE_PAD
from services.face_attributes.parts import AGE_GENDER_FRAMING
from services.runtime.imaging import decode_image
from services.runtime.repository import ModelRepository
from services.runtime.settings import ServiceSettings
from xcloud import names

ASIAN, WHITE = data.UTK_RACES.index("Asian"), data.UTK_RACES.index("White")


@dataclass(frozen=True)
class Task:
    name: str
    model: str
    labels: tuple[str, ...]
    groups: tuple[str, ...]  # feature groups the head reads


# The face nets' groups. faceres (trained for gender) was added after a 3-fold CV on the
# training rows: Asian-vs-Caucasian on SCUT-FBP5500 train_60 0.9942 -> 0.9954, UTKFace
# 5-class 0.8630 -> 0.8717 (docs/models.md).
FACE_GROUPS = ("recognition.pooled", "recognition.grid", "recognition.descriptor",
               "xception.pooled", "xception.grid", "faceres.full", "faceres.face")
UTK_NETS = nets_of(FACE_GROUPS)  # the nets the race and gender heads read
# Training rows per race (White 3.9k, Black 3.3k, Asian 1.7k, Indian 1.6k, Others 1.0k in the
# training part): a cap that balances the head (every race near Others' count) and keeps the
# feature extraction to ~5k faces (~25 min on 2 cores; the whole part would take ~50).
UTK_PER_RACE = 1000
TASKS = {
    "race": Task("race", RACE, data.UTK_RACES, FACE_GROUPS),
    "gender": Task("gender", GENDER, data.GENDERS, FACE_GROUPS),
}


def truth(sf: SetFeatures, task: Task) -> np.ndarray:
    return getattr(sf.labelled, task.name)


@dataclass(frozen=True)
class Sets:
    utk: SetFeatures
    scut: SetFeatures
    utk_train: np.ndarray  # row indices
    utk_test: np.ndarray
    scut_train: np.ndarray
    scut_test: np.ndarray


def utk_sets(root: Path, log: Log = print, limit: int | None = None, with_train: bool = True
             ) -> tuple[SetFeatures, np.ndarray, np.ndarray]:
    """UTKFace's features with its training rows (at most ``UTK_PER_RACE`` per race) and test
    rows; with ``limit``, only the first ``limit`` test rows and no training rows; without
    ``with_train``, no training rows (their extraction is the slow part)."""
    utk = data.utkface(root)
    is_test = np.array([utk_is_test(p) for p in utk.paths])
    test = np.flatnonzero(is_test)
    train = data.balanced(utk, np.flatnonzero(~is_test & with_train), UTK_PER_RACE)
    if limit is not None:  # detect only what is evaluated
        utk, test, train = utk.subset(test[:limit]), np.arange(min(limit, len(test))), np.arange(0)
    return utk_set_features(utk, train, test, UTKFACE_PAD, log=log), train, test


def load_sets(root: Path, log: Log = print, limit: int | None = None, scut: bool = True) -> Sets:
    """Single-view features (the served graph takes no mirror image). With ``limit``, only the
    first ``limit`` images of each test part (a quick check; nothing to train on). Without
    ``scut``, SCUT-FBP5500 is left out (its parts empty, its figures NaN)."""
    utk_features, utk_train, utk_test = utk_sets(root, log, limit)
    every = data.scut(root)
    train_names, test_names = data.scut_protocols(root)["60/40"][0]
    scut_train, scut_test = every.index_of(train_names), every.index_of(test_names)
    if limit is not None or not scut:
        keep = scut_test[: (limit or 0) if scut else 0]
        every, scut_test, scut_train = every.subset(keep), np.arange(len(keep)), np.arange(0)
    scut_features_ = (
        set_features(every, "scut-fbp5500", views=1, flip=False, log=log) if len(every.paths)
        else SetFeatures(every, np.zeros((0, width())), np.zeros(0, bool), np.zeros((0, 5, 2)))
    )
    return Sets(utk_features, scut_features_, utk_train, utk_test, scut_train, scut_test)


def fit(task: Task, sets: Sets) -> LinearHead:
    """Logistic regression on the detected faces of both training parts."""
    utk_rows = sets.utk_train[sets.utk.found[sets.utk_train]]
    scut_rows = sets.scut_train[sets.scut.found[sets.scut_train]]
    x = np.vstack([sets.utk.x[utk_rows], sets.scut.x[scut_rows]])
    y = np.concatenate([truth(sets.utk, task)[utk_rows], truth(sets.scut, task)[scut_rows]])
    head = logistic(x, y, task.groups, len(task.labels))
    head.record["training_data"] = (
        f"UTKFace aligned-cropped, hash split train part ({len(utk_rows)} faces) + SCUT-FBP5500 "
        f"train_60 ({len(scut_rows)} faces); faces found by our MTCNN")
    return head


def scores(head: LinearHead, sf: SetFeatures, rows: np.ndarray) -> np.ndarray:
    """Logits of ``rows``; NaN for a face our detector missed."""
    out = np.full((len(rows), head.weight.shape[0]), np.nan)
    found = sf.found[rows]
    out[found] = head.predict(sf.x[rows[found]])
    return out


def accuracies(task: Task, logits: dict[str, np.ndarray], sets: Sets) -> dict[str, Any]:
    """Accuracy on UTKFace test (with per class) and SCUT test_40 (race: also Asian vs
    Caucasian, the seed's binary task: the more likely of the two)."""
    utk_truth = truth(sets.utk, task)[sets.utk_test]
    scut_truth = truth(sets.scut, task)[sets.scut_test]
    utk_hit = _argmax(logits["utkface"]) == utk_truth
    figures: dict[str, Any] = {
        "utkface_test": float(utk_hit.mean()), "utkface_test_images": len(utk_truth),
        "utkface_test_per_class": {
            task.labels[c]: float(utk_hit[utk_truth == c].mean()) for c in np.unique(utk_truth)},
        "scut_test_40": float((_argmax(logits["scut"]) == scut_truth).mean()),
        "scut_test_images": len(scut_truth),
        "scut_test_faces_missed": int(np.isnan(logits["scut"]).any(axis=1).sum()),
        "utkface_by_group": group_table(
            sets.utk.labelled.race[sets.utk_test], sets.utk.labelled.gender[sets.utk_test],
            lambda group: float(utk_hit[group].mean()), higher_is_better=True),
    }
    if task.name == "race":
        pair = logits["scut"][:, [WHITE, ASIAN]]
        binary = np.where(np.isnan(pair).any(axis=1), -1,
                          np.where(pair[:, 1] > pair[:, 0], ASIAN, WHITE))
        figures["scut_test_40_asian_vs_caucasian"] = float((binary == scut_truth).mean())
    return figures


def _argmax(logits: np.ndarray) -> np.ndarray:
    """Predicted class per row; -1 (never right) where the face was missed."""
    return np.where(np.isnan(logits).any(axis=1), -1, np.nan_to_num(logits).argmax(axis=1))


def evaluate_head(task: Task, head: LinearHead, sets: Sets) -> dict[str, Any]:
    logits = {"utkface": scores(head, sets.utk, sets.utk_test),
              "scut": scores(head, sets.scut, sets.scut_test)}
    return accuracies(task, logits, sets)


def faceapi_gender(sf: SetFeatures, rows: np.ndarray, batch: int = 32) -> np.ndarray:
    """face-api's gender probabilities [male, female] as the face_attributes service computes
    them (its framing of the same shared crop); NaN where our detector missed the face."""
    session = ort.InferenceSession(
        str(ModelRepository(ServiceSettings().model_repository).get(names.FACEAPI_AGE_GENDER).onnx_path),
        providers=["CPUExecutionProvider"])
    out = np.full((len(rows), 2), np.nan)
    found = np.flatnonzero(sf.found[rows])
    for start in range(0, len(found), batch):
        chunk = found[start:start + batch]
        crops = [_faceapi_crop(sf, rows[i]) for i in chunk]
        out[chunk] = session.run(["gender"], {"input": to_input(crops)})[0]
    return out


def _faceapi_crop(sf: SetFeatures, row: int) -> np.ndarray:
    rgb = decode_image(sf.labelled.paths[row].read_bytes())
    return face_crop(rgb, sf.landmarks[row], AGE_GENDER_FRAMING.margin, AGE_GENDER_FRAMING.size)


def train(name: str, data_dir: str | None = None, log: Log = print, scut: bool = True
          ) -> LinearHead:
    """Fit one task's head, record its test figures and write the committed weights."""
    task = TASKS[name]
    sets = load_sets(data_root(data_dir), log, scut=scut)
    head = fit(task, sets)
    figures = evaluate_head(task, head, sets)
    log(f"{task.model}: {figures}")
    head.record.update({
        "trained": datetime.date.today().isoformat(),
        "utkface_split": f"sha256(file name) < {UTK_TEST_SHARE} of the range is test",
        "metrics": {task.name: figures},
    })
    head.save(WEIGHTS_DIR / task.model)
    log(f"wrote {WEIGHTS_DIR / task.model}.npz/.json; rebuild with "
        f"`python -m models.build --force {task.model}`")
    return head


def main(name: str, argv: list[str] | None = None) -> int:
    """The CLI of ``train_race`` and ``train_gender``."""
    parser = argparse.ArgumentParser(description=f"Train the {name} head ({TASKS[name].model}).")
    parser.add_argument("--data", default=None, help="shared data root (default: $XCLOUD_DATA "
                        "or ../shared/data)")
    parser.add_argument("--without-scut", action="store_true", help="train and evaluate on "
                        "UTKFace alone (skips SCUT-FBP5500's feature extraction, ~5,500 faces)")
    args = parser.parse_args(argv)
    train(name, args.data, scut=not args.without_scut)
    return 0
