"""A labelled set through the serving pipeline: our detector's landmarks -> aligned crop ->
features (both cached), one row per image; images without a detected face are flagged."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.attributes import features
from models.attributes.data import LabelledSet
from models.attributes.landmarks import detect_landmarks

Log = Callable[[str], None]
# UTKFace's training images are re-encoded at this JPEG quality (``features.reencoded``).
UTK_TRAIN_JPEG_QUALITY = 75


@dataclass(frozen=True)
class SetFeatures:
    labelled: LabelledSet
    x: np.ndarray          # (n, dim): features, full layout (NaN: no face, or a net not run)
    found: np.ndarray      # (n,) bool: our detector found the face
    landmarks: np.ndarray  # (n, 5, 2) our detector's landmarks (NaN where none)


@dataclass(frozen=True)
class PathFeatures:
    x: np.ndarray          # (n, views, dim), full layout
    found: np.ndarray      # (n,) bool
    landmarks: np.ndarray  # (n, 5, 2)


def path_features(paths: Sequence[Path], name: str, views: int = 1,
                  nets: Sequence[str] = features.ATTRIBUTE_NETS, pad: float = 0.0, log: Log = print,
                  jpeg_quality: int | None = None, landmarks: np.ndarray | None = None
                  ) -> PathFeatures:
    """Landmarks (unless given) and features of ``paths``, both cached on disk."""
    if landmarks is None:
        log(f"{name}: landmarks of {len(paths)} images (our MTCNN, cached)")
        landmarks = detect_landmarks(paths, name, pad)

    def progress(done: int, total: int) -> None:
        if done % 400 < 16 or done == total:
            log(f"  {name} features {done}/{total}")

    x = features.extract(paths, landmarks, views, nets, progress=progress,
                         jpeg_quality=jpeg_quality)
    found = ~np.isnan(landmarks).any(axis=(1, 2))
    log(f"{name}: face found in {found.sum()}/{len(found)} images")
    return PathFeatures(x, found, landmarks)


def set_features(labelled: LabelledSet, name: str, views: int, flip: bool,
                 nets: Sequence[str] = features.ATTRIBUTE_NETS, pad: float = 0.0, log: Log = print
                 ) -> SetFeatures:
    """Features as a served graph computes them: of the crop alone, or (``flip``) averaged with
    its mirror image's. ``views`` (1 or 2) is what gets extracted and cached: a set cached with
    both views serves the flip-averaging beauty graph and the single-view race/gender graphs.
    ``pad``: border added for detection only (see ``detect_landmarks``)."""
    got = path_features(labelled.paths, name, views, nets, pad, log)
    x = got.x.mean(axis=1) if flip else got.x[:, 0]
    return SetFeatures(labelled, x, got.found, got.landmarks)


def utk_set_features(labelled: LabelledSet, train: np.ndarray, test: np.ndarray, pad: float,
                     nets: Sequence[str] = features.ATTRIBUTE_NETS, log: Log = print
                     ) -> SetFeatures:
    """UTKFace, one view, features of the ``train`` and ``test`` rows only (NaN elsewhere):
    training rows re-encoded at ``UTK_TRAIN_JPEG_QUALITY`` (so no head learns the compression
    of the part its Black faces came from), test rows as they are. Landmarks of every image."""
    log(f"utkface: landmarks of {len(labelled.paths)} images (our MTCNN, cached)")
    marks = detect_landmarks(labelled.paths, "utkface", pad)
    x = np.full((len(labelled.paths), features.width()), np.nan, np.float32)
    for rows, quality, part in ((test, None, "test"), (train, UTK_TRAIN_JPEG_QUALITY, "train")):
        if len(rows):
            got = path_features([labelled.paths[i] for i in rows], f"utkface-{part}", 1, nets,
                                log=log, jpeg_quality=quality, landmarks=marks[rows])
            x[rows] = got.x[:, 0]
    return SetFeatures(labelled, x, ~np.isnan(marks).any(axis=(1, 2)), marks)
