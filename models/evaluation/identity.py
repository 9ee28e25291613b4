"""`xcloud eval identity`: what can honestly be measured of face identification here.

No labelled identity set (several photos per person) is available on this machine or in the
registries, so true matches cannot be measured. What is measured, through the service's own
code path (MTCNN detection and alignment, the identity service's Embedder and Gallery):

- false-accept rate at the service's threshold over every pair of different SCUT-FBP5500
  people (one photo each), overall and per group (Asian / Caucasian, female / male);
- a robustness check, NOT a genuine-pair measurement: the distance between each face and its
  own mirror image, and whether 1:N identify (HNSW, embedded PostgreSQL) over all enrolled
  people returns the right person for the mirrored view.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import tempfile
from pathlib import Path

import numpy as np

from models.evaluation.datasets import data_root
from models.evaluation.publish import publish_metrics
from services.animal_identity.embedded import EmbeddedPostgres
from services.animal_identity.embedding import FACE, Embedder, Payload, RawFace
from services.animal_identity.gallery import Gallery
from services.animal_identity.settings import AnimalIdentitySettings
from services.face_detection.handler import MTCNN_PARTS, DetectParams, FaceDetectionHandler
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.alignment import SHARED_CROP_MARGIN
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool

GROUPS = ("AF", "AM", "CF", "CM")  # SCUT-FBP5500 file prefixes: Asian/Caucasian female/male
PER_GROUP = 250
CROP_SIDE = 256  # what the gateway sends for identify
CHUNK = 32
TARGETS = {"far_at_threshold": ("<=", 0.01), "mirror_identify_top1": (">=", 0.95)}


def scut_people(root: Path, per_group: int) -> list[Path]:
    """The first ``per_group`` people of each group, one photo each (deterministic)."""
    folder = root / "scut-fbp5500" / "images"
    return [p for g in GROUPS for p in sorted(folder.glob(f"{g}*.jpg"))[:per_group]]


async def aligned_crops(paths: list[Path]) -> list[np.ndarray | None]:
    """Each photo's most confident face, aligned as the gateway aligns it (None if none)."""
    settings = FaceDetectionSettings(port=0, metrics_port=None)
    pool = ModelPool(settings, list(MTCNN_PARTS))
    await pool.start()
    params = DetectParams(aligned_size=CROP_SIDE, aligned_margin=SHARED_CROP_MARGIN, max_faces=1)
    try:
        handler = FaceDetectionHandler(settings, pool)
        crops = []
        for path in paths:
            found = await handler.detect_pixels(decode_image(path.read_bytes()), params)
            crops.append(found.faces[0].aligned if found.faces else None)
        return crops
    finally:
        await pool.stop()


async def embed(settings: AnimalIdentitySettings, crops: list[np.ndarray]) -> np.ndarray:
    pool = ModelPool(settings, [settings.face_model])
    await pool.start()
    try:
        embedder = Embedder(settings, pool)
        vectors = []
        for start in range(0, len(crops), CHUNK):
            faces = tuple(RawFace(c.shape[1], c.shape[0], c.tobytes()) for c in crops[start:start + CHUNK])
            vectors.append((await embedder.embed(FACE, Payload(faces=faces))).vectors)
        return np.concatenate(vectors)
    finally:
        await pool.stop()


async def identify_top1(vectors: np.ndarray, probes: np.ndarray) -> float:
    """Share of probes whose nearest subject in a real gallery is their own."""
    with tempfile.TemporaryDirectory(prefix="identity-eval-") as folder:
        database = EmbeddedPostgres(Path(folder) / "pg")
        gallery = Gallery()
        try:
            await gallery.open(database.url)
            collection = await gallery.create_collection("eval", "scut", FACE, "eval", "1", vectors.shape[1])
            await gallery.bulk_load(collection, [str(i) for i in range(len(vectors))], vectors)
            hits = [(await gallery.nearest(collection, probe, 1))[0].subject == str(i)
                    for i, probe in enumerate(probes)]
        finally:
            await gallery.close()
            database.stop()
    return float(np.mean(hits))


def impostor_figures(vectors: np.ndarray, groups: np.ndarray, threshold: float) -> dict[str, float]:
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    first, second = np.triu_indices(len(vectors), 1)
    pairs = distances[first, second]
    figures = {"impostor_pairs": float(len(pairs)), "far_at_threshold": float(np.mean(pairs < threshold)),
               "impostor_distance_mean": float(pairs.mean()),
               "impostor_distance_p1": float(np.percentile(pairs, 1))}
    for group in GROUPS:
        within = (groups[first] == group) & (groups[second] == group)
        figures[f"far_within_{group}"] = float(np.mean(pairs[within] < threshold))
    return figures


async def evaluate(root: Path, per_group: int) -> dict:
    settings = AnimalIdentitySettings(port=0, metrics_port=None)
    paths = scut_people(root, per_group)
    crops = await aligned_crops(paths)
    kept = [i for i, crop in enumerate(crops) if crop is not None]
    faces = [crops[i] for i in kept]
    vectors = await embed(settings, faces)
    mirrored = await embed(settings, [np.ascontiguousarray(c[:, ::-1]) for c in faces])
    groups = np.array([paths[i].name[:2] for i in kept])
    mirror = np.linalg.norm(vectors - mirrored, axis=1)
    return {
        "people": len(paths), "faces_found": len(kept), "threshold": settings.face_threshold,
        "face_chip_padding": settings.face_chip_padding,
        **impostor_figures(vectors, groups, settings.face_threshold),
        "mirror_distance_mean": float(mirror.mean()),
        "mirror_distance_p95": float(np.percentile(mirror, 95)),
        "mirror_within_threshold": float(np.mean(mirror < settings.face_threshold)),
        "mirror_identify_top1": await identify_top1(vectors, mirrored),
        "genuine_pairs": "none available: no labelled identity set here; mirror figures are a "
                         "robustness check, not a true-match rate",
        "data": "SCUT-FBP5500 (non-commercial research use), one photo per person",
    }


def meets(name: str, value: float) -> bool:
    op, bound = TARGETS[name]
    return value >= bound if op == ">=" else value <= bound


def print_table(figures: dict) -> None:
    print(f"face identity (faceapi_recognition, threshold {figures['threshold']}) on "
          f"{figures['faces_found']}/{figures['people']} SCUT-FBP5500 people")
    for name, value in figures.items():
        if isinstance(value, float) and name not in ("threshold", "face_chip_padding"):
            target = TARGETS.get(name)
            mark = "" if target is None else f"  {target[0]} {target[1]}  " + (
                "ok" if meets(name, value) else "MISSED")
            print(f"  {name:<26}{value:>12.4f}{mark}")
    print(f"  genuine pairs: {figures['genuine_pairs']}")


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    per_group = PER_GROUP if limit is None else max(2, limit // len(GROUPS))
    figures = asyncio.run(evaluate(data_root(data), per_group))
    figures["date"] = datetime.date.today().isoformat()
    if write_card and limit is None:
        publish_metrics(["faceapi_recognition"], {"identity": figures})
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    return 0 if all(meets(n, figures[n]) for n in TARGETS) else 1
