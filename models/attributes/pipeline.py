"""A labelled set through the serving pipeline: our detector's landmarks -> aligned crop ->
features (both cached), one row per image; images without a detected face are flagged."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.attributes import features
from models.attributes.data import LabelledSet
from models.attributes.landmarks import detect_landmarks

Log = Callable[[str], None]


@dataclass(frozen=True)
class SetFeatures:
    labelled: LabelledSet
    x: np.ndarray          # (n, dim): features, full layout (NaN: no face, or a net not run)
    found: np.ndarray      # (n,) bool: our detector found the face
    landmarks: np.ndarray  # (n, 5, 2) our detector's landmarks (NaN where none)


def set_features(labelled: LabelledSet, name: str, views: int, flip: bool,
                 nets: Sequence[str] = features.NETS, pad: float = 0.0, log: Log = print
                 ) -> SetFeatures:
    """Features as a served graph computes them: of the crop alone, or (``flip``) averaged with
    its mirror image's. ``views`` (1 or 2) is what gets extracted and cached: a set cached with
    both views serves the flip-averaging beauty graph and the single-view race/gender graphs.
    ``pad``: border added for detection only (see ``detect_landmarks``)."""
    log(f"{name}: landmarks of {len(labelled.paths)} images (our MTCNN, cached)")
    marks = detect_landmarks(labelled.paths, name, pad)

    def progress(done: int, total: int) -> None:
        if done % 400 < 16 or done == total:
            log(f"  {name} features {done}/{total}")

    extracted = features.extract(labelled.paths, marks, views, nets, progress=progress)
    x = extracted.mean(axis=1) if flip else extracted[:, 0]
    found = ~np.isnan(marks).any(axis=(1, 2))
    log(f"{name}: face found in {found.sum()}/{len(found)} images")
    return SetFeatures(labelled, x, found, marks)
