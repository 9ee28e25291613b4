"""Face detection with and without the service's second look at a bordered copy (padding.py).

    python -m benchmarks.detection_padding [--data DIR] [--count 300] [--share 0.25]
        [--model mtcnn] [--sets utkface scut-fbp5500 flowers17]

The first ``count`` images (sorted names) of each set go through the service's own handler with
``tight_face_pad_share`` 0 and ``--share``. It prints the share of images with at least one
face (on flowers17, which has no faces, that share is false detections), and the eye error on
SCUT-FBP5500 photos cut to the box of their 86 labelled points (faces filling the frame, as a
tight chip): mean distance of the predicted eye centres to the labelled ones over the labelled
eye distance, for the face whose box holds the labelled eyes' midpoint. The figures of
docs/models.md come from it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import numpy as np

from models.evaluation.datasets import ScutFace, data_root, scut_faces
from models.evaluation.detection import score_face
from services.face_detection.handler import DETECTORS, DetectParams, FaceDetectionHandler
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool

SETS = ("utkface", "scut-fbp5500", "flowers17")
CONCURRENCY = 4  # images in flight, so the batcher can merge R-Net/O-Net work


def first_images(root: Path, name: str, count: int) -> list[Path]:
    return sorted((root / name / "images").iterdir())[:count]


def tight_chip(face: ScutFace, points: np.ndarray) -> tuple[np.ndarray, ScutFace]:
    """The photo cut to its labelled points' box, and the eye centres in the cut's pixels."""
    x1, y1 = np.floor(points.min(axis=0)).astype(int).clip(0)
    x2, y2 = np.ceil(points.max(axis=0)).astype(int)
    rgb = decode_image(face.path.read_bytes())[y1:y2, x1:x2]
    corner = np.array([x1, y1], np.float32)
    return np.ascontiguousarray(rgb), ScutFace(
        face.path, face.subject_left_eye - corner, face.subject_right_eye - corner)


def tight_chips(root: Path, count: int) -> list[tuple[np.ndarray, ScutFace]]:
    marks = np.load(root / "scut-fbp5500" / "landmarks_86.npz")
    points = dict(zip((str(n) for n in marks["names"]), marks["points"]))
    faces = sorted(scut_faces(root), key=lambda f: f.path.name)[:count]
    return [tight_chip(face, points[face.path.name]) for face in faces]


async def faces_of(handler: FaceDetectionHandler, images: list, model: str) -> list[list]:
    """Each image's faces; ``images`` holds paths or decoded RGB arrays."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(image) -> list:
        async with gate:
            if isinstance(image, Path):
                image = await asyncio.to_thread(decode_image, image.read_bytes())
            return (await handler.detect_pixels(image, DetectParams(model=model))).faces

    return list(await asyncio.gather(*(one(i) for i in images)))


def eye_error(chips: list[tuple[np.ndarray, ScutFace]], found: list[list]) -> dict[str, float]:
    errors = [score_face(truth, faces) for (_, truth), faces in zip(chips, found)]
    hits = [e for e in errors if e is not None]
    return {"tight_scut_found": round(len(hits) / len(errors), 4),
            "tight_scut_eye_error": round(float(np.mean(hits)), 4)}


async def figures(share: float, images: dict[str, list[Path]], chips: list, model: str) -> dict:
    settings = FaceDetectionSettings(port=0, metrics_port=None, tight_face_pad_share=share)
    pool = ModelPool(settings, list(DETECTORS[model].parts))
    await pool.start()
    try:
        handler = FaceDetectionHandler(settings, pool)
        found = {name: await faces_of(handler, paths, model) for name, paths in images.items()}
        tight = await faces_of(handler, [rgb for rgb, _ in chips], model)
    finally:
        await pool.stop()
    rates = {name: round(sum(bool(f) for f in faces) / len(faces), 4)
             for name, faces in found.items()}
    return {**rates, **eye_error(chips, tight)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="shared data root (default $XCLOUD_DATA or ../shared/data)")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--share", type=float,
                        default=FaceDetectionSettings().tight_face_pad_share)
    parser.add_argument("--model", default="mtcnn", choices=sorted(DETECTORS))
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    args = parser.parse_args(argv)
    root = data_root(args.data)
    images = {name: first_images(root, name, args.count) for name in args.sets}
    chips = tight_chips(root, args.count)
    results = {f"share {share:g}": asyncio.run(figures(share, images, chips, args.model))
               for share in (0.0, args.share)}
    print(json.dumps({"model": args.model, "images_per_set": args.count, **results}, indent=1))


if __name__ == "__main__":
    main()
