"""Detection rate with and without the face-detection service's no-face border (padding.py).

    python -m benchmarks.detection_padding [--data DIR] [--count 300]
        [--share 0.1] [--sets utkface scut-fbp5500 flowers17]

For each set, the first ``count`` images (sorted names) go through the service's own handler
with ``no_face_pad_share`` 0 and ``--share``; it prints the share of images with at least one
face (on flowers17, which has no faces, that share is false detections). Not a test: the
figures of docs/models.md come from it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from models.evaluation.datasets import data_root
from services.face_detection.handler import (
    MTCNN_PARTS,
    DetectParams,
    FaceDetectionHandler,
)
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool

SETS = ("utkface", "scut-fbp5500", "flowers17")
CONCURRENCY = 4  # images in flight, so the batcher can merge R-Net/O-Net work


def first_images(root: Path, name: str, count: int) -> list[Path]:
    return sorted((root / name / "images").iterdir())[:count]


async def face_counts(handler: FaceDetectionHandler, paths: list[Path]) -> list[int]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(path: Path) -> int:
        async with gate:
            rgb = await asyncio.to_thread(decode_image, path.read_bytes())
            return len((await handler.detect_pixels(rgb, DetectParams())).faces)

    return list(await asyncio.gather(*(one(p) for p in paths)))


async def rates(share: float, images: dict[str, list[Path]]) -> dict[str, float]:
    """Share of each set's images with at least one face, bordered by ``share`` where none."""
    settings = FaceDetectionSettings(port=0, metrics_port=None, no_face_pad_share=share)
    pool = ModelPool(settings, list(MTCNN_PARTS))
    await pool.start()
    try:
        handler = FaceDetectionHandler(settings, pool)
        counts = {name: await face_counts(handler, paths) for name, paths in images.items()}
    finally:
        await pool.stop()
    return {name: round(sum(n > 0 for n in c) / len(c), 4) for name, c in counts.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="shared data root (default $XCLOUD_DATA or ../shared/data)")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--share", type=float, default=FaceDetectionSettings().no_face_pad_share)
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    args = parser.parse_args(argv)
    root = data_root(args.data)
    images = {name: first_images(root, name, args.count) for name in args.sets}
    figures = {f"share {share:g}": asyncio.run(rates(share, images)) for share in (0.0, args.share)}
    print(json.dumps({"images_per_set": args.count, **figures}, indent=1))


if __name__ == "__main__":
    main()
