"""Our MTCNN's 5 landmarks for every image of a labelled set, cached on disk.

The heads must see exactly what the gateway sends at serving time, so the crops are aligned on
the landmarks of our own detector (services/face_detection, same handler as a Detect call, default
parameters), never on a data set's labelled points. Detection is the slowest step here, so its
result is cached under ``models/.cache/attributes/``, keyed by the detector's ONNX files and every
image's name, size and modification time.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models.evaluation.detection import CONCURRENCY
from models.packages import CACHE_DIR, sha256_of
from services.face_detection.handler import MTCNN_PARTS, DetectParams, FaceDetectionHandler
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool
from services.runtime.repository import ModelRepository

CACHE = CACHE_DIR / "attributes"


def detect_landmarks(paths: Sequence[Path], label: str = "landmarks", pad: float = 0.0,
                     cache_dir: Path = CACHE) -> np.ndarray:
    """(n, 5, 2) float32 landmarks (in each image's own pixels) of the largest detected face;
    NaN where none. ``pad`` zero-borders each image by that share of its side for detection:
    MTCNN misplaces the points of a face that fills the frame (UTKFace's chips), and a border
    is what a photo's background would give. Aligning on the unpadded image with a black
    border fill then gives the same crop as aligning on the padded one."""
    # One ORT thread per session: on a shared, busy CPU spinning intra-op workers cost more
    # than they bring; inference_threads still runs two batches at once.
    settings = FaceDetectionSettings(port=0, metrics_port=None, intra_op_threads=1)
    cache = cache_dir / f"landmarks-{_cache_key(paths, settings, pad)}.npy"
    if cache.is_file():
        return np.load(cache)
    out = np.asarray(asyncio.run(_detect(settings, paths, pad, label)), np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache.with_suffix(".part.npy"), out)
    cache.with_suffix(".part.npy").replace(cache)  # a killed run never leaves a truncated cache
    return out


async def _detect(settings: FaceDetectionSettings, paths: Sequence[Path], pad: float, label: str
                  ) -> list[np.ndarray]:
    pool = ModelPool(settings, list(MTCNN_PARTS))
    await pool.start()
    handler, gate = FaceDetectionHandler(settings, pool), asyncio.Semaphore(CONCURRENCY)

    async def one(path: Path) -> np.ndarray:
        async with gate:
            rgb = await asyncio.to_thread(decode_image, path.read_bytes())
            border = round(pad * max(rgb.shape[:2]))
            padded = cv2.copyMakeBorder(rgb, *(border,) * 4, cv2.BORDER_CONSTANT)
            faces = (await handler.detect_pixels(padded, DetectParams())).faces
        if not faces:
            return np.full((5, 2), np.nan)
        # SCUT and UTKFace hold one subject; a second face is a poster or a hand
        largest = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        return largest.landmarks - border

    try:
        tasks = [asyncio.ensure_future(one(p)) for p in paths]
        for task in tqdm(asyncio.as_completed(tasks), total=len(tasks), desc=label, leave=False):
            await task
        return [task.result() for task in tasks]
    finally:
        await pool.stop()


def _cache_key(paths: Sequence[Path], settings: FaceDetectionSettings, pad: float) -> str:
    repository = ModelRepository(settings.model_repository)
    digest = hashlib.sha256()
    for part in MTCNN_PARTS:
        digest.update(sha256_of(repository.get(part).onnx_path).encode())
    digest.update(f"{settings.min_face_size}|{settings.score_threshold}|{pad}\n".encode())
    for path in paths:
        stat = Path(path).stat()
        digest.update(f"{Path(path).name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]
