"""Every face-recognition net the registries hold, side by side with face-api's descriptor and
the served head (``face_embedding_xcloud``), on the same faces:

    python -m models.identity.candidates [--data DIR] [--json]

Faces: our MTCNN's landmarks and the identity graph's own crop (``features.face_crop``), each
net's view cut from it (``nets.views``). Each net's output is L2-normalised; distances are
Euclidean (a monotone function of cosine). face-api's descriptor is taken raw, as served (0.6).
Sets: ``lfw-identity``'s held-out people (the 20 % hash split of ``models.identity.train``; never
fitted on), ``nuaa-identity`` (never fitted on, never used to choose anything) and SCUT-FBP5500
test_40 (first 300 per group, every image a different person: impostor pairs only). Per SCUT
group: impostor-distance percentiles and the FAR at the distance that gives FAR 1e-3 on the
held-out LFW people, i.e. how far a threshold set on one population moves on another.
Embeddings are cached under models/.cache/identity/ (keyed by net, framing and images).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.attributes import data as attribute_data
from models.attributes.features import columns, face_crop
from models.attributes.landmarks import detect_landmarks
from models.evaluation.datasets import data_root
from models.identity import metrics
from models.identity.data import PADS, IdentitySet, shared_set
from models.identity.export import EMBEDDING, Embedder, served_embedding
from models.identity.nets import NETS, SESSIONS, Net, runner, views
from models.identity.projection import subject_split
from models.identity.train import (
    HELD_OUT_SHARE,
    SCUT_GROUPS,
    SCUT_PER_GROUP,
    identity_faces,
    scut_groups,
)
from services.runtime.imaging import decode_image

Log = Callable[[str], None]
BATCH = 32


def net_embeddings(paths: Sequence[Path], landmarks: np.ndarray, nets: Sequence[Net],
                   log: Log = print) -> dict[str, np.ndarray]:
    """name -> (n, D) raw outputs of each net (NaN rows where no face was found); cached."""
    out, todo = {}, []
    for net in nets:
        cache = _cache_path(net, paths, landmarks)
        if cache.is_file():
            out[net.name] = np.load(cache)
        else:
            todo.append((net, cache))
    if todo:
        computed = _run_nets(paths, landmarks, [net for net, _ in todo], log)
        for net, cache in todo:
            np.save(cache.with_suffix(".part.npy"), computed[net.name])
            cache.with_suffix(".part.npy").replace(cache)
            out[net.name] = computed[net.name]
    return out


def _run_nets(paths: Sequence[Path], landmarks: np.ndarray, nets: Sequence[Net], log: Log
              ) -> dict[str, np.ndarray]:
    """One pass over the images: decode and crop once, every net on the batch."""
    runs = {net.name: runner(net) for net in nets}
    found = np.flatnonzero(~np.isnan(landmarks).any(axis=(1, 2)))
    parts: dict[str, list[np.ndarray]] = {net.name: [] for net in nets}
    for start in range(0, len(found), BATCH):
        rows = found[start:start + BATCH]
        crops = np.stack([face_crop(decode_image(Path(paths[i]).read_bytes()), landmarks[i])
                          for i in rows])
        for net in nets:
            parts[net.name].append(runs[net.name](views(crops, net)))
        if (start // BATCH) % 25 == 0:
            log(f"  {start + len(rows)}/{len(found)} faces: {', '.join(parts)}")
    out = {}
    for net in nets:
        rows = np.concatenate(parts[net.name]) if parts[net.name] else np.zeros((0, 1))
        full = np.full((len(paths), rows.shape[1]), np.nan, np.float32)
        full[found] = rows
        out[net.name] = full
    return out


def _cache_path(net: Net, paths: Sequence[Path], landmarks: np.ndarray) -> Path:
    digest = hashlib.sha256(net.key().encode())
    digest.update(np.ascontiguousarray(landmarks, np.float32).tobytes())
    for path in paths:
        stat = Path(path).stat()
        digest.update(f"{Path(path).name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    SESSIONS.mkdir(parents=True, exist_ok=True)
    return SESSIONS / f"embeddings-{net.graph}-{digest.hexdigest()[:24]}.npy"


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def identity_vectors(identity: IdentitySet, nets: Sequence[Net], served: Embedder,
                     log: Log = print) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per model, the vectors of the images whose face was found, their subjects and names."""
    marks = detect_landmarks(identity.paths, identity.name, PADS.get(identity.name, 0.1))
    found = ~np.isnan(marks).any(axis=(1, 2))
    raw = net_embeddings(identity.paths, marks, nets, log)
    vectors = {name: unit(v[found]) for name, v in raw.items()}
    faces = identity_faces(identity, log)  # the pipeline's features, same faces
    vectors.update(baselines(faces.x, served))
    return vectors, identity.subjects[found], np.array(identity.names)[identity.subjects[found]]


def baselines(x: np.ndarray, served: Embedder) -> dict[str, np.ndarray]:
    return {"faceapi_descriptor": x[:, columns(["recognition.descriptor"])],
            EMBEDDING: served(x)}


def scut_vectors(root: Path, nets: Sequence[Net], served: Embedder, log: Log = print
                 ) -> dict[str, dict[str, np.ndarray]]:
    """group -> model -> vectors of SCUT-FBP5500 test_40's first ``SCUT_PER_GROUP`` faces."""
    scut = attribute_data.scut(root)
    names = attribute_data.scut_split(root, "test_40")
    picked = [n for g in SCUT_GROUPS
              for n in sorted(n for n in names if n.startswith(g))[:SCUT_PER_GROUP]]
    part = scut.subset(scut.index_of(picked))
    marks = detect_landmarks(part.paths, "scut-fbp5500-test_40", 0.0)
    raw = net_embeddings(part.paths, marks, nets, log)
    pipeline = scut_groups(root, "test_40", log)
    out = {}
    for group in SCUT_GROUPS:
        in_group = np.array([p.name.startswith(group) for p in part.paths])
        rows = in_group & ~np.isnan(marks).any(axis=(1, 2))
        out[group] = {name: unit(v[rows]) for name, v in raw.items()}
        out[group].update(baselines(pipeline[group], served))
    return out


def group_figures(vectors: np.ndarray, threshold: float) -> dict[str, float]:
    impostor = metrics.pair_distances(vectors, np.arange(len(vectors))).impostor
    p01, p5, p50 = np.percentile(impostor, [0.1, 5, 50])
    return {"far_at_lfw_thr": metrics.far_at(impostor, threshold), "p0.1": float(p01),
            "p5": float(p5), "median": float(p50)}


def compare(root: Path, nets: Sequence[Net], log: Log = print) -> dict[str, Any]:
    """model -> set -> figures (see the module doc)."""
    served = served_embedding()
    lfw_vectors, lfw_subjects, lfw_names = identity_vectors(
        shared_set(root, "lfw-identity"), nets, served, log)
    held = subject_split(lfw_names, HELD_OUT_SHARE)
    nuaa_vectors, nuaa_subjects, _ = identity_vectors(
        shared_set(root, "nuaa-identity"), nets, served, log)
    groups = scut_vectors(root, nets, served, log)
    out: dict[str, Any] = {}
    for model, vectors in lfw_vectors.items():
        lfw = metrics.summary(vectors[held], lfw_subjects[held], np.inf)
        impostor = metrics.pair_distances(vectors[held], lfw_subjects[held]).impostor
        threshold = metrics.threshold_at(impostor, 1e-3)
        out[model] = {
            "lfw-identity": lfw, "lfw_threshold_far_1e-3": threshold,
            "nuaa-identity": metrics.summary(nuaa_vectors[model], nuaa_subjects, np.inf),
            **{f"scut_{g}": group_figures(groups[g][model], threshold) for g in SCUT_GROUPS},
        }
    return out


def markdown(figures: dict[str, Any]) -> str:
    """The comparison table of docs/models.md."""
    head = ("| model | set | TAR@1e-2 | TAR@1e-3 | TAR@1e-4 | rank-1 |\n"
            "| --- | --- | --- | --- | --- | --- |")
    rows = [head]
    for model, sets in figures.items():
        for name in ("lfw-identity", "nuaa-identity"):
            f = sets[name]
            cells = [f"{f.get(k, float('nan')):.3f}" for k in
                     ("tar_at_far_0.01", "tar_at_far_0.001", "tar_at_far_0.0001",
                      "rank1_one_enrolled")]
            rows.append(f"| {model} | {name} | " + " | ".join(cells) + " |")
    rows += ["", "| model | " + " | ".join(f"{g} FAR / median / p0.1" for g in SCUT_GROUPS) + " |",
             "| --- |" + " --- |" * len(SCUT_GROUPS)]
    for model, sets in figures.items():
        cells = [f"{sets[f'scut_{g}']['far_at_lfw_thr']:.4f} / {sets[f'scut_{g}']['median']:.2f} / "
                 f"{sets[f'scut_{g}']['p0.1']:.2f}" for g in SCUT_GROUPS]
        rows.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare every obtainable face-recognition net.")
    parser.add_argument("--data", default=None, help="shared data root (default: $XCLOUD_DATA "
                        "or ../shared/data)")
    parser.add_argument("--nets", default=",".join(NETS), help="comma-separated subset of "
                        f"{', '.join(NETS)}")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    nets = [NETS[name] for name in args.nets.split(",") if name]
    figures = compare(data_root(args.data), nets, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(figures) if args.json else markdown(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
