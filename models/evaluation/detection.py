"""`xcloud eval detection`: detection rate and eye error on SCUT-FBP5500, false detections
on flowers17, measured through the service's own handler (same code path as a Detect call).

Figures:
- detection rate: share of SCUT-FBP5500 images (one face each) where a detected face's box
  contains the midpoint of the labelled eye centres;
- eye error: for that face, mean distance between predicted and labelled eye centres divided
  by the labelled inter-ocular distance (eye centres = mean of the 8 eye-outline points);
- false detections per image on flowers17, which has no faces.
"""
from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.evaluation.datasets import ScutFace, data_root, flowers17_images, scut_faces
from models.evaluation.publish import publish_metrics
from services.face_detection.handler import MTCNN_PARTS, DetectParams, FaceDetectionHandler
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool

CONCURRENCY = 8  # images in flight, so the batcher can merge R-Net/O-Net work


async def detect_all(handler: FaceDetectionHandler, paths: Sequence[Path], label: str) -> list:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(path: Path):
        async with gate:
            rgb = await asyncio.to_thread(decode_image, path.read_bytes())
            return (await handler.detect_pixels(rgb, DetectParams())).faces

    tasks = [asyncio.ensure_future(one(p)) for p in paths]
    for task in tqdm(asyncio.as_completed(tasks), total=len(tasks), desc=label, leave=False):
        await task
    return [t.result() for t in tasks]


def score_face(truth: ScutFace, faces: list) -> float | None:
    """Normalised eye error of the face covering the labelled eyes, None when missed."""
    middle = (truth.subject_left_eye + truth.subject_right_eye) / 2
    for face in faces:  # highest score first
        x1, y1, x2, y2 = face.box
        if x1 <= middle[0] <= x2 and y1 <= middle[1] <= y2:
            errors = [np.linalg.norm(face.landmarks[0] - truth.subject_left_eye),
                      np.linalg.norm(face.landmarks[1] - truth.subject_right_eye)]
            eye_distance = np.linalg.norm(truth.subject_left_eye - truth.subject_right_eye)
            return float(np.mean(errors) / eye_distance)
    return None


async def evaluate(root: Path, limit: int | None = None) -> dict:
    settings = FaceDetectionSettings(port=0, metrics_port=None)
    pool = ModelPool(settings, list(MTCNN_PARTS))
    await pool.start()
    try:
        handler = FaceDetectionHandler(settings, pool)
        truths = scut_faces(root)[:limit]
        found = await detect_all(handler, [t.path for t in truths], "scut-fbp5500")
        errors = [score_face(t, f) for t, f in zip(truths, found)]
        flowers = flowers17_images(root)[:limit]
        false_faces = await detect_all(handler, flowers, "flowers17")
    finally:
        await pool.stop()
    hits = [e for e in errors if e is not None]
    return {
        "scut_images": len(truths),
        "detection_rate": len(hits) / len(truths),
        "eye_error_nme": float(np.mean(hits)) if hits else float("nan"),
        "eye_error_nme_p95": float(np.percentile(hits, 95)) if hits else float("nan"),
        "flowers17_images": len(flowers),
        "false_detections_per_image": sum(len(f) for f in false_faces) / len(flowers),
        "score_threshold": settings.score_threshold,
        "min_face_size": settings.min_face_size,
    }


TARGETS = {"detection_rate": (">=", 0.995), "eye_error_nme": ("<=", 0.08),
           "false_detections_per_image": ("<=", 0.01)}


def meets(name: str, value: float) -> bool:
    op, bound = TARGETS[name]
    return value >= bound if op == ">=" else value <= bound


def print_table(figures: dict) -> None:
    print(f"MTCNN detection on {figures['scut_images']} SCUT-FBP5500 and "
          f"{figures['flowers17_images']} flowers17 images")
    print(f"{'metric':<28}{'value':>10}  target")
    for name, (op, bound) in TARGETS.items():
        mark = "ok" if meets(name, figures[name]) else "MISSED"
        print(f"{name:<28}{figures[name]:>10.4f}  {op} {bound}  {mark}")


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    figures = asyncio.run(evaluate(data_root(data), limit))
    figures["date"] = datetime.date.today().isoformat()
    if write_card and limit is None:
        publish_metrics(MTCNN_PARTS, {"detection": figures})
    print(json.dumps(figures) if as_json else "", end="\n" if as_json else "")
    if not as_json:
        print_table(figures)
    return 0 if all(meets(n, figures[n]) for n in TARGETS) else 1
