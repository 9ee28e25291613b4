"""Measure the enrolment quality gate's three measures on good-quality face sets.

    nice -n 10 python -m models.evaluation.face_quality [--data DIR] [--per-set 150] [--json]

Each sampled photo goes through MTCNN as the gateway's gallery sends it (aligned crop side 224,
SHARED_CROP_MARGIN), its largest face is measured (gateway/face_quality.py), and so are two
degraded copies: downscaled by 3 and Gaussian-blurred (sigma 2.5 px at the original size).
It prints the percentiles of each measure per set and the share of each copy the served
bounds (gateway.face_quality.BOUNDS) refuse: the bounds are chosen from these figures
(about the 1st percentile of the good sets), and the degraded copies show that they bite.
lfw-identity's crops are tight (forehead to chin), so they are padded by 25 % per side
first, as the identity evaluation does, or the detector misses most faces.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import cv2
import numpy as np

from gateway.face_quality import BOUNDS, Measures, measure, problems
from models.evaluation.datasets import data_root
from services.face_detection.handler import MTCNN_PARTS, DetectParams, FaceDetectionHandler
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.alignment import SHARED_CROP_MARGIN
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool

SETS = {"lfw-identity": 0.25, "nuaa-identity": 0.0}  # set -> padding per side
CROP_SIDE = 224  # what gateway/gallery.py asks detection for
PERCENTILES = (1, 5, 50, 95, 99)
DOWNSCALE = 3
BLUR_SIGMA = 2.5


def sample(folder: Path, count: int) -> list[Path]:
    """``count`` photos spread evenly over the set's sorted list (deterministic)."""
    paths = sorted(folder.glob("images/*/*.jpg"))
    if not paths:
        raise SystemExit(f"no images under {folder}/images")
    picks = np.linspace(0, len(paths) - 1, min(count, len(paths))).round().astype(int)
    return [paths[i] for i in dict.fromkeys(picks)]


def padded(rgb: np.ndarray, share: float) -> np.ndarray:
    if share <= 0:
        return rgb
    top, left = int(rgb.shape[0] * share), int(rgb.shape[1] * share)
    return cv2.copyMakeBorder(rgb, top, top, left, left, cv2.BORDER_REPLICATE)


def degraded(rgb: np.ndarray) -> dict[str, np.ndarray]:
    height, width = rgb.shape[:2]
    small = cv2.resize(rgb, (width // DOWNSCALE, height // DOWNSCALE), interpolation=cv2.INTER_AREA)
    return {"original": rgb, "downscaled": small,
            "blurred": cv2.GaussianBlur(rgb, (0, 0), BLUR_SIGMA)}


async def largest_face(handler: FaceDetectionHandler, rgb: np.ndarray) -> Measures | None:
    params = DetectParams(aligned_size=CROP_SIDE, aligned_margin=SHARED_CROP_MARGIN)
    found = await handler.detect_pixels(rgb, params)
    if not found.faces:
        return None
    face = max(found.faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return measure(face.landmarks, face.aligned, SHARED_CROP_MARGIN)


async def measure_set(handler: FaceDetectionHandler, paths: list[Path], pad: float
                      ) -> dict[str, list[Measures | None]]:
    copies: dict[str, list[Measures | None]] = {"original": [], "downscaled": [], "blurred": []}
    for path in paths:
        for name, rgb in degraded(padded(decode_image(path.read_bytes()), pad)).items():
            copies[name].append(await largest_face(handler, rgb))
    return copies


def percentiles(good: list[Measures]) -> dict:
    """Percentiles of each measure (of |yaw|: the gate bounds it on both sides)."""
    figures = {}
    for field in ("inter_ocular_px", "sharpness", "yaw"):
        values = np.array([abs(getattr(m, field)) if field == "yaw" else getattr(m, field)
                           for m in good])
        figures[field] = {f"p{p}": round(float(np.percentile(values, p)), 3) for p in PERCENTILES}
    return figures


def summary(copies: dict[str, list[Measures | None]]) -> dict:
    good = [m for m in copies["original"] if m is not None]
    figures = {"images": len(copies["original"]), "faces": len(good), **percentiles(good)}
    for name, found in copies.items():
        faces = [m for m in found if m is not None]
        refused = sum(1 for m in faces if problems(m))
        figures[f"refused_{name}"] = round(refused / max(len(faces), 1), 3)
        # which bound refused them: "face too small", "face too blurred", "face not frontal"
        reasons = [r.split(":")[0] for m in faces for r in problems(m)]
        figures[f"reasons_{name}"] = {r: reasons.count(r) for r in sorted(set(reasons))}
        figures[f"faces_{name}"] = len(faces)
    return figures


async def evaluate(root: Path, per_set: int) -> dict:
    settings = FaceDetectionSettings(port=0, metrics_port=None)
    pool = ModelPool(settings, list(MTCNN_PARTS))
    await pool.start()
    try:
        handler = FaceDetectionHandler(settings, pool)
        copies = {name: await measure_set(handler, sample(root / name, per_set), pad)
                  for name, pad in SETS.items()}
    finally:
        await pool.stop()
    figures = {name: summary(found) for name, found in copies.items()}
    pooled = [m for found in copies.values() for m in found["original"] if m is not None]
    figures["pooled"] = {"faces": len(pooled), **percentiles(pooled)}
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None,
                        help="data root (default $XCLOUD_DATA or ../shared/data)")
    parser.add_argument("--per-set", type=int, default=150)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = asyncio.run(evaluate(data_root(args.data), args.per_set))
    figures["bounds"] = vars(BOUNDS)
    print(json.dumps(figures, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
