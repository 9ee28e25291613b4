"""`xcloud eval identity [--data DIR]`: the served face identity head (``face_embedding_xcloud``)
against face-api's descriptor, on labelled people.

Every face goes through the serving computation: our MTCNN's landmarks, the aligned crop, the
frozen nets, the head (``models.attributes.pipeline``; the graph is the same computation,
``tests/models/test_identity.py``). Sets: ``lfw-identity``'s held-out people (never fitted
on), ``nuaa-identity`` (15 Chinese subjects, never fitted on, nor used to choose anything),
and SCUT-FBP5500 test_40 per group (AF/AM/CF/CM, the first 300 of each; one photo per person,
so only impostor pairs: the false-accept rate and the impostor-distance distribution).
``--data DIR`` evaluates any folder of ``<subject>/<image>`` folders instead (the ROC table a
user calibrates on).
Figures: TAR at FAR 1e-2/1e-3/1e-4, rank-1 with one enrolled image, FAR and TAR at the served
threshold. face-api's descriptor is read off the same crops (``recognition.descriptor``,
threshold 0.6): the service's dlib-chip framing scores it a little higher (docs/models.md).
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.attributes.features import columns
from models.evaluation.datasets import data_root
from models.evaluation.publish import publish_metrics
from models.identity import metrics
from models.identity.data import folder_set, shared_set
from models.identity.export import EMBEDDING, Embedder, committed, served_embedding
from models.identity.projection import subject_split
from models.identity.train import HELD_OUT_SHARE, identity_faces, scut_groups

FACEAPI_THRESHOLD = 0.6
TARGETS = {"nuaa-identity": 0.95, "lfw-identity": 0.90}  # TAR at FAR 1e-3


def embedders() -> dict[str, tuple[Embedder, float]]:
    """name -> (features -> embeddings, served threshold)."""
    descriptor = columns(["recognition.descriptor"])
    head, _ = committed()
    return {EMBEDDING: (served_embedding(), head.record["identity"]["threshold"]),
            "faceapi_descriptor": (lambda x: x[:, descriptor], FACEAPI_THRESHOLD)}


def labelled_sets(root: Path, folder: Path | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (features, subjects) of every set to report."""
    if folder is not None:
        faces = identity_faces(folder_set(folder))
        return {folder.name: (faces.x, faces.subjects)}
    lfw = identity_faces(shared_set(root, "lfw-identity"))
    held = subject_split(lfw.names, HELD_OUT_SHARE)
    nuaa = identity_faces(shared_set(root, "nuaa-identity"))
    return {"lfw-identity": (lfw.x[held], lfw.subjects[held]),
            "nuaa-identity": (nuaa.x, nuaa.subjects)}


def scut_impostors(root: Path) -> dict[str, np.ndarray]:
    return scut_groups(root, "test_40")


def group_figures(vectors: np.ndarray, threshold: float) -> dict[str, float]:
    impostor = metrics.pair_distances(vectors, np.arange(len(vectors))).impostor
    p1, p5, p50 = np.percentile(impostor, [0.1, 5, 50])
    return {"far_at_threshold": metrics.far_at(impostor, threshold),
            "impostor_pairs": len(impostor),
            "impostor_distance_p0.1": float(p1), "impostor_distance_p5": float(p5),
            "impostor_distance_median": float(p50)}


def evaluate(root: Path, folder: Path | None = None, scut: bool = True) -> dict[str, Any]:
    sets = labelled_sets(root, folder)
    groups = scut_impostors(root) if scut and folder is None else {}
    out: dict[str, Any] = {}
    for model, (transform, threshold) in embedders().items():
        figures = {name: metrics.summary(transform(x), s, threshold)
                   for name, (x, s) in sets.items()}
        figures.update({f"scut_test_40_{g}": group_figures(transform(x), threshold)
                        for g, x in groups.items()})
        out[model] = {"threshold": threshold, **figures}
    return out


def print_table(figures: dict[str, Any]) -> None:
    columns_ = ("tar_at_far_0.01", "tar_at_far_0.001", "tar_at_far_0.0001", "rank1_one_enrolled",
                "far_at_threshold", "tar_at_threshold")
    headers = "".join(f"{c.replace('tar_at_far_', 'TAR@'):>18}" for c in columns_)
    print(f"{'model':<22}{'set':<22}" + headers)
    for model, sets in figures.items():
        if not isinstance(sets, dict):
            continue
        for name, f in sets.items():
            if isinstance(f, dict):
                cells = "".join(f"{f[c]:>18.4f}" if c in f else f"{'-':>18}" for c in columns_)
                print(f"{model:<22}{name:<22}{cells}")
        print(f"{'':<22}served threshold {sets['threshold']:.4f}")


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True, folder: str | None = None) -> int:
    root = data_root(data)
    own = Path(folder) if folder else (None if (root / "lfw-identity").is_dir() else root)
    figures = evaluate(root, own, scut=limit is None)
    figures["date"] = datetime.date.today().isoformat()
    if write_card and own is None and limit is None:
        publish_metrics([EMBEDDING], {"identity": figures})
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    served = figures[EMBEDDING]
    met = all(served.get(n, {}).get("tar_at_far_0.001", 1.0) >= t for n, t in TARGETS.items())
    return 0 if met else 1
