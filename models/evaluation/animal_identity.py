"""`xcloud eval animal-identity`: open-set re-identification of individual animals.

Protocols (../shared/data): holstein2025 enrol ``gallery/`` (10 cows), identify ``query/``;
opencows2020 enrol ``train/`` (46 cows), identify ``test/``. Every image goes through the
identity service's own Embedder (ANIMAL kind: preprocessing, the served ONNX model, SIFT
keypoints) and its re-ranking code (rerank.py, the served fusion from the model card); the
search is exact (every enrolled image), where the service uses HNSW.

Figures, for global-only and global + re-rank: rank-1, rank-5, and false accept = share of
queries whose top subject is wrong and yet flagged same_subject at the served threshold.
"""
from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path

import numpy as np

from models.animal.data import PROTOCOLS, load_set
from models.evaluation.datasets import data_root
from models.evaluation.publish import publish_metrics
from services.animal_identity.embedding import ANIMAL, Embedder, Embeddings, Payload
from services.animal_identity.rerank import ImageHit, rank_subjects
from services.animal_identity.settings import AnimalIdentitySettings
from services.runtime.pool import ModelPool

CHUNK = 16
TARGETS = {"rank1": (">=", 0.95), "false_accept": ("<=", 0.02)}


async def embed_all(embedder: Embedder, paths: list[Path]) -> Embeddings:
    parts = []
    for i in range(0, len(paths), CHUNK):
        images = tuple(p.read_bytes() for p in paths[i:i + CHUNK])
        parts.append(await embedder.embed(ANIMAL, Payload(images=images)))
    return Embeddings(np.concatenate([p.vectors for p in parts]), parts[0].model, parts[0].version,
                      tuple(f for p in parts for f in p.local))


def figures(gallery: Embeddings, labels: list[str], queries: Embeddings, truth: list[str],
            embedder: Embedder, rerank: bool) -> dict[str, float]:
    fusion, hits1, hits5, accepted_wrong = embedder.fusion(ANIMAL), 0, 0, 0
    for n, vector in enumerate(queries.vectors):
        distances = np.linalg.norm(gallery.vectors - vector, axis=1)
        hits = [ImageHit(s, float(d), f) for s, d, f in zip(labels, distances, gallery.local)]
        ranked = rank_subjects(queries.local[n] if rerank else None, hits, fusion, 5)
        hits1 += ranked[0].subject == truth[n]
        hits5 += truth[n] in {r.subject for r in ranked}
        accepted_wrong += ranked[0].subject != truth[n] and fusion.same(ranked[0].probability)
    count = len(truth)
    return {"rank1": hits1 / count, "rank5": hits5 / count, "false_accept": accepted_wrong / count,
            "queries": count}


async def evaluate(root: Path, limit: int | None) -> dict:
    settings = AnimalIdentitySettings(port=0, metrics_port=None)
    pool = ModelPool(settings, [settings.animal_model])
    await pool.start()
    try:
        embedder = Embedder(settings, pool)
        out = {"model": settings.animal_model, "threshold": embedder.threshold(ANIMAL)}
        for protocol, (enrolled, queried) in PROTOCOLS.items():
            gallery_paths, labels = load_set(root, enrolled)
            query_paths, truth = load_set(root, queried)
            if limit:  # a quick run: every n-th query
                step = max(1, len(query_paths) // limit)
                query_paths, truth = query_paths[::step], truth[::step]
            gallery = await embed_all(embedder, gallery_paths)
            queries = await embed_all(embedder, query_paths)
            out[protocol] = {mode: figures(gallery, labels, queries, truth, embedder,
                                           mode == "rerank")
                             for mode in ("global", "rerank")}
        return out
    finally:
        await pool.stop()


def meets(name: str, value: float) -> bool:
    op, bound = TARGETS[name]
    return value >= bound if op == ">=" else value <= bound


def print_table(found: dict) -> None:
    print(f"animal re-identification ({found['model']}, "
          f"zero-inlier threshold {found['threshold']:.3f})")
    print(f"  {'protocol':<14}{'mode':<9}{'rank-1':>8}{'rank-5':>8}{'false acc.':>12}"
          f"{'queries':>9}")
    for protocol in PROTOCOLS:
        for mode, f in found[protocol].items():
            marks = "" if mode == "global" else "  " + " ".join(
                f"{n} {'ok' if meets(n, f[n]) else 'MISSED'}" for n in TARGETS)
            print(f"  {protocol:<14}{mode:<9}{f['rank1']:>8.3f}{f['rank5']:>8.3f}"
                  f"{f['false_accept']:>12.3f}{f['queries']:>9}{marks}")


def main(data: str | None = None, as_json: bool = False, limit: int | None = None) -> int:
    found = asyncio.run(evaluate(data_root(data), limit))
    found["date"] = datetime.date.today().isoformat()
    if limit is None:
        publish_metrics([found["model"]], {"animal_identity": found})
    if as_json:
        print(json.dumps(found))
    else:
        print_table(found)
    ok = all(meets(n, found[p]["rerank"][n]) for p in PROTOCOLS for n in TARGETS)
    return 0 if ok else 1
