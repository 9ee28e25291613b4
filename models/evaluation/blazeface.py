"""`xcloud eval blazeface`: BlazeFace beside MTCNN, same images, same handler, one run.

The figures of `xcloud eval detection` (scored by models/evaluation/detection.py's functions):
detection rate and eye error on SCUT-FBP5500, false detections per image on flowers17; plus
the wall time per image of each detector through the service handler (decode, preprocessing,
batched inference, decoding), measured one after the other in this process, and a face-size
sweep: SCUT faces pasted, at their size, on grey canvases k times larger, which shows how small
a face (relative to the image) BlazeFace still finds.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import time
from pathlib import Path

import numpy as np

from models.evaluation.datasets import ScutFace, data_root, flowers17_images, scut_faces
from models.evaluation.detection import TARGETS, detect_all, meets, score_face
from models.evaluation.publish import publish_metrics
from services.face_detection.blazeface import MODEL
from services.face_detection.handler import MODELS, DetectParams, FaceDetectionHandler
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool

COMPARED = (MODEL, "mtcnn")
CANVAS_FACTORS = (1, 2, 4, 6, 8, 10, 12)  # canvas side / image side in the face-size sweep
SWEEP_IMAGES = 200
GREY = 128


def _handler(pool: ModelPool, detector: str) -> FaceDetectionHandler:
    settings = FaceDetectionSettings(port=0, metrics_port=None, default_model=detector)
    return FaceDetectionHandler(settings, pool)


async def _measure(handler: FaceDetectionHandler, truths: list[ScutFace], flowers: list[Path],
                   name: str) -> dict:
    start = time.perf_counter()
    found = await detect_all(handler, [t.path for t in truths], f"{name} scut-fbp5500")
    false_faces = await detect_all(handler, flowers, f"{name} flowers17")
    seconds = time.perf_counter() - start
    hits = [e for e in (score_face(t, f) for t, f in zip(truths, found)) if e is not None]
    return {
        "scut_images": len(truths),
        "detection_rate": len(hits) / len(truths),
        "eye_error_nme": float(np.mean(hits)) if hits else float("nan"),
        "eye_error_nme_p95": float(np.percentile(hits, 95)) if hits else float("nan"),
        "flowers17_images": len(flowers),
        "false_detections_per_image": sum(len(f) for f in false_faces) / len(flowers),
        "seconds_per_image": seconds / (len(truths) + len(flowers)),
        "score_threshold": handler.resolve(DetectParams()).score_threshold,
    }


async def _size_sweep(handler: FaceDetectionHandler, truths: list[ScutFace]) -> list[dict]:
    """Detection rate of the same faces as their image is framed ever more loosely."""
    images = [await asyncio.to_thread(decode_image, t.path.read_bytes()) for t in truths]
    sweep = []
    for factor in CANVAS_FACTORS:
        hits, fractions = 0, []
        for truth, rgb in zip(truths, images):
            height, width = rgb.shape[:2]
            canvas = np.full((height * factor, width * factor, 3), GREY, np.uint8)
            top, left = (factor - 1) * height // 2, (factor - 1) * width // 2  # centred
            canvas[top:top + height, left:left + width] = rgb
            shift = np.array([left, top], np.float32)
            moved = dataclasses.replace(truth, subject_left_eye=truth.subject_left_eye + shift,
                                        subject_right_eye=truth.subject_right_eye + shift)
            faces = (await handler.detect_pixels(canvas, DetectParams())).faces
            hits += score_face(moved, faces) is not None
            eyes = np.linalg.norm(truth.subject_left_eye - truth.subject_right_eye)
            fractions.append(eyes / max(canvas.shape[:2]))
        sweep.append({"canvas_factor": factor, "eye_distance_fraction": float(np.mean(fractions)),
                      "detection_rate": hits / len(truths)})
    return sweep


async def evaluate(root: Path, limit: int | None = None) -> dict:
    pool = ModelPool(FaceDetectionSettings(port=0, metrics_port=None), MODELS)
    await pool.start()
    try:
        truths, flowers = scut_faces(root)[:limit], flowers17_images(root)[:limit]
        figures = {name: await _measure(_handler(pool, name), truths, flowers, name)
                   for name in COMPARED}
        sweep = await _size_sweep(_handler(pool, MODEL), truths[:SWEEP_IMAGES])
    finally:
        await pool.stop()
    ours = figures[MODEL]
    ours["speedup_vs_mtcnn"] = figures["mtcnn"]["seconds_per_image"] / ours["seconds_per_image"]
    ours["size_sweep"] = sweep
    return figures


def print_table(figures: dict) -> None:
    ours, mtcnn = figures[MODEL], figures["mtcnn"]
    print(f"BlazeFace vs MTCNN on {ours['scut_images']} SCUT-FBP5500 and "
          f"{ours['flowers17_images']} flowers17 images (same run)")
    print(f"{'metric':<28}{MODEL:>10}{'mtcnn':>10}  target ({MODEL})")
    for name, (op, bound) in TARGETS.items():
        mark = "ok" if meets(name, ours[name]) else "MISSED"
        print(f"{name:<28}{ours[name]:>10.4f}{mtcnn[name]:>10.4f}  {op} {bound}  {mark}")
    for name in ("eye_error_nme_p95", "seconds_per_image", "score_threshold"):
        print(f"{name:<28}{ours[name]:>10.4f}{mtcnn[name]:>10.4f}")
    print(f"{'speedup_vs_mtcnn':<28}{ours['speedup_vs_mtcnn']:>10.2f}")
    print("face-size sweep (blazeface): canvas factor, eye distance / image side, detection rate")
    for row in ours["size_sweep"]:
        print(f"  x{row['canvas_factor']:<3} {row['eye_distance_fraction']:>8.3f} "
              f"{row['detection_rate']:>8.3f}")


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    figures = asyncio.run(evaluate(data_root(data), limit))
    ours = figures[MODEL]
    ours["date"] = datetime.date.today().isoformat()
    if write_card and limit is None:
        publish_metrics([MODEL], {"detection": ours, "mtcnn_same_run": figures["mtcnn"]})
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    return 0 if all(meets(n, ours[n]) for n in TARGETS) else 1
