"""What the face-api evaluations share: labelled faces, crops made as the gateway makes them,
and the face_attributes handler run over them.

Crops: our MTCNN (the face_detection handler, default parameters) finds the largest face and
``align_face`` frames it at the gateway's SHARED_CROP_MARGIN and side, exactly what a per-face
service receives. UTKFace's chips are faces cut to the chin and hairline; MTCNN's box regression
fails on a face that fills the frame (boxes run off the image, eyes land on the forehead), so a
chip is zero-padded by ``UTKFACE_PAD`` of its side first, as a photo's background would frame it.
The wider framings then see black where the chip ends: the sweep reports that share.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from models.evaluation.datasets import utk_is_test
from services.face_attributes.handler import Attributes, FaceAttributesHandler
from services.face_attributes.parts import Part
from services.face_attributes.settings import FaceAttributesSettings
from services.face_detection.handler import MTCNN_PARTS, DetectParams, FaceDetectionHandler
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.alignment import SHARED_CROP_MARGIN
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool

GATEWAY_SIDE = 224  # the aligned_size the gateway asks for the per-face face-api services
UTKFACE_PAD = 0.25
CONCURRENCY = 8     # faces in flight, so the batchers form batches


@dataclass(frozen=True)
class LabelledFace:
    path: Path
    age: float    # years; NaN where the set has no age
    gender: str   # "male" | "female"
    pad: float = 0.0  # zero border added before detection, as a share of the side


def utkface_test(root: Path) -> list[LabelledFace]:
    """UTKFace's held-out part (the file-name hash split the attribute heads use)."""
    faces = []
    for path in sorted((root / "utkface" / "images").glob("*.jpg")):
        fields = path.name.split("_")
        labelled = len(fields) >= 4 and fields[0].isdigit() and fields[1] in ("0", "1")
        if not (labelled and utk_is_test(path)):
            continue  # a few release files lack a field: their labels are unknown
        gender = ("male", "female")[int(fields[1])]
        faces.append(LabelledFace(path, float(fields[0]), gender, UTKFACE_PAD))
    return faces


def scut_test40(root: Path) -> list[LabelledFace]:
    """SCUT-FBP5500's official test_40 split; gender from the name (AF, AM, CF, CM)."""
    folder = root / "scut-fbp5500"
    lines = (folder / "splits" / "test_40.txt").read_text().splitlines()
    names = [line.split()[0] for line in lines if line.strip()]
    return [LabelledFace(folder / "images" / n, float("nan"), "female" if n[1] == "F" else "male")
            for n in names]


def load(face: LabelledFace) -> np.ndarray:
    rgb = decode_image(face.path.read_bytes())
    border = round(face.pad * max(rgb.shape[:2]))
    if not border:
        return rgb
    return cv2.copyMakeBorder(rgb, border, border, border, border, cv2.BORDER_CONSTANT)


async def gateway_crops(images: Sequence[LabelledFace | Path], label: str = "faces",
                        side: int = GATEWAY_SIDE) -> list[np.ndarray | None]:
    """The aligned crop of each image's largest face as the gateway sends it; None if no face."""
    settings = FaceDetectionSettings(port=0, metrics_port=None)
    pool = ModelPool(settings, list(MTCNN_PARTS))
    await pool.start()
    try:
        handler = FaceDetectionHandler(settings, pool)
        params = DetectParams(aligned_size=side, aligned_margin=SHARED_CROP_MARGIN)

        async def crop(image: LabelledFace | Path) -> np.ndarray | None:
            face = (image if isinstance(image, LabelledFace)
                    else LabelledFace(image, float("nan"), ""))
            rgb = await asyncio.to_thread(load, face)
            found = (await handler.detect_pixels(rgb, params)).faces
            # one subject per image; a second face is a poster or a reflection
            largest = max(found, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]),
                          default=None)
            return None if largest is None else largest.aligned

        return await bounded(crop, images, label)
    finally:
        await pool.stop()


async def predict_all(crops: Sequence[np.ndarray | None], parts: Sequence[Part],
                      label: str = "attributes") -> list[Attributes | None]:
    """The face_attributes handler's answer for each crop (None where there is no crop)."""
    settings = FaceAttributesSettings(port=0, metrics_port=None)
    pool = ModelPool(settings, list(dict.fromkeys(p.model for p in parts)))
    await pool.start()
    try:
        handler = FaceAttributesHandler(settings, pool, parts)
        handler.check_parts()

        async def predict(crop: np.ndarray | None) -> Attributes | None:
            return None if crop is None else await handler.predict(crop)

        return await bounded(predict, crops, label)
    finally:
        await pool.stop()


async def bounded(function: Callable[[Any], Awaitable[Any]], items: Sequence, label: str) -> list:
    """``function`` over every item, CONCURRENCY at a time, with a progress bar; results in
    order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item):
        async with gate:
            return await function(item)

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    for task in tqdm(asyncio.as_completed(tasks), total=len(tasks), desc=label, leave=False):
        await task
    return [task.result() for task in tasks]
