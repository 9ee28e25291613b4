"""ANIMAL Identify latency with re-ranking on a large gallery, through the service's handler.

    python -m benchmarks.animal_identify --n 10000 [--data DIR] [--queries 200]

Gallery: every real cow image of ../shared/data (holstein2025, opencows2020; ~4,700, each its
own folder's subject) when present, then synthetic images up to ``--n``: random smooth
two-tone coats (a cow-like black/white pattern, each its own subject), so the stored
keypoints and vectors are real SIFT features and real model outputs. Everything is enrolled
through the real ``IdentityHandler.enroll`` (model, SIFT, PostgreSQL transaction) into an
embedded PostgreSQL. Then each query (holstein2025 query images, or synthetic ones) runs
``IdentityHandler.identify`` end to end: decode, model, SIFT, HNSW shortlist, local-feature
re-ranking of the 5 nearest subjects, one at a time; p50/p95 wall time is printed with the
number of CPU cores. Not part of `make bench` (enrolling 10,000 images takes minutes).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from models.animal.data import SETS, folder_per_subject
from models.evaluation.datasets import DataMissing, data_root
from services.animal_identity.embedded import EmbeddedPostgres
from services.animal_identity.embedding import ANIMAL, Embedder, Payload
from services.animal_identity.gallery import Gallery
from services.animal_identity.handler import IdentityHandler
from services.animal_identity.settings import AnimalIdentitySettings
from services.runtime.pool import ModelPool

TENANT, COLLECTION = "benchmark", "cows"


def synthetic_coat(seed: int) -> bytes:
    """A 120x200 JPEG of a random smooth black/white patch pattern."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (200, 120)).astype(np.float32), (0, 0), 9)
    coat = np.where(noise > 0, 235, 25).astype(np.uint8)
    texture = np.clip(coat + rng.normal(0, 12, coat.shape), 0, 255).astype(np.uint8)
    return cv2.imencode(".jpg", cv2.cvtColor(texture, cv2.COLOR_GRAY2BGR))[1].tobytes()


def shared_data(explicit: Path | None) -> Path | None:
    """The labelled data root as the evaluations find it, or None (synthetic images only)."""
    try:
        return data_root(explicit)
    except DataMissing:
        return None


def real_images(root: Path | None) -> list[tuple[str, bytes]]:
    if root is None or not root.is_dir():
        return []
    found = []
    for name, folder in SETS.items():
        if name != "holstein_query" and (root / folder).is_dir():
            paths, subjects = folder_per_subject(root / folder)
            found += [(f"{name}/{s}", p.read_bytes()) for p, s in zip(paths, subjects)]
    return found


async def enrol(handler: IdentityHandler, images: list[tuple[str, bytes]]) -> float:
    start, by_subject = time.perf_counter(), {}
    for subject, content in images:
        by_subject.setdefault(subject, []).append(content)
    for subject, contents in by_subject.items():
        for i in range(0, len(contents), 16):
            batch = Payload(images=tuple(contents[i:i + 16]))
            await handler.enroll(TENANT, COLLECTION, subject, batch)
    return time.perf_counter() - start


async def run(n: int, root: Path | None, queries: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-animal-") as folder:
        database = EmbeddedPostgres(Path(folder) / "pg", {"shared_buffers": "1GB"})
        settings = AnimalIdentitySettings(port=0, metrics_port=None, database_url=database.url)
        pool, gallery = ModelPool(settings, [settings.animal_model]), Gallery()
        await pool.start()
        await gallery.open(database.url)
        try:
            handler = IdentityHandler(settings, Embedder(settings, pool), gallery)
            await handler.create_collection(TENANT, COLLECTION, ANIMAL)
            images = real_images(root)[:n]
            images += [(f"synthetic/{i}", synthetic_coat(i)) for i in range(n - len(images))]
            seconds = await enrol(handler, images)
            synthetic = sum(1 for s, _ in images if s.startswith("synthetic/"))
            print(f"enrolled {len(images)} images ({synthetic} synthetic) in {seconds:.0f} s")
            if root is not None and (root / SETS["holstein_query"]).is_dir():
                photos = sorted((root / SETS["holstein_query"]).glob("*/*"))
                probes = [p.read_bytes() for p in photos][:queries]
            else:
                probes = [synthetic_coat(i) for i in range(min(queries, n))]
            times = []
            for probe in probes:
                start = time.perf_counter()
                await handler.identify(TENANT, COLLECTION, Payload(images=(probe,)), top_k=5)
                times.append((time.perf_counter() - start) * 1000)
            print(f"gallery {len(images)} images; {len(times)} queries, one at a time, "
                  f"{os.cpu_count()} cores: Identify p50 {np.percentile(times, 50):.1f} ms, "
                  f"p95 {np.percentile(times, 95):.1f} ms (re-ranking {settings.animal_rerank})")
        finally:
            await gallery.close()
            await pool.stop()
            database.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="gallery images")
    parser.add_argument("--data", type=Path, default=None, help="shared data root (default: "
                        "$XCLOUD_DATA or ../shared/data; synthetic images only where absent)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    asyncio.run(run(args.n, shared_data(args.data), args.queries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
