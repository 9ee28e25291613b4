"""Pictures of an Analyze answer: each face's box, its five landmarks and its one-line summary.

The image is decoded the way the services decode it (services.runtime.imaging: upright per
EXIF), so the answer's pixel coordinates land where the gateway found them. Captions are drawn
first and boxes last, so no caption ever hides a box edge; they go above the box, or below it
when there is no room above. OpenCV's Hershey fonts are ASCII only, hence the plain separator.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from services.runtime.imaging import decode_image
from xcloud.cli import formatting
from xcloud.v1 import gateway_pb2

# BGR, as OpenCV draws
BOX_COLOUR = (0, 255, 0)
LANDMARK_COLOUR = (0, 0, 255)
TEXT_COLOUR = (255, 255, 255)
CAPTION_BACKGROUND = (48, 48, 48)
FONT = cv2.FONT_HERSHEY_SIMPLEX
MAX_FONT_SCALE = 0.6
MIN_FONT_SCALE = 0.3
PAD = 3


def draw_analysis(content: bytes, response: gateway_pb2.AnalyzeResponse) -> np.ndarray:
    """The image (BGR) with every face of ``response`` drawn on it."""
    image = cv2.cvtColor(decode_image(content), cv2.COLOR_RGB2BGR)
    thickness = max(2, round(min(image.shape[:2]) / 250))
    for index, analysis in enumerate(response.faces, 1):
        draw_caption(image, caption(index, analysis), analysis.face.box, thickness)
    for analysis in response.faces:
        draw_face(image, analysis, thickness)
    return image


def caption(index: int, analysis: gateway_pb2.FaceAnalysis) -> str:
    """The face's summary line as the text output prints it, in ASCII."""
    text = formatting.face_summary(index, analysis).replace(formatting.SEPARATOR, " | ")
    return text.encode("ascii", "replace").decode()


def draw_face(image: np.ndarray, analysis: gateway_pb2.FaceAnalysis, thickness: int) -> None:
    face = analysis.face
    box = face.box
    cv2.rectangle(image, (round(box.x_min), round(box.y_min)), (round(box.x_max), round(box.y_max)),
                  BOX_COLOUR, thickness)
    if face.HasField("landmarks"):
        for name in formatting.LANDMARKS:
            point = getattr(face.landmarks, name)
            cv2.circle(image, (round(point.x), round(point.y)), thickness + 1, LANDMARK_COLOUR,
                       cv2.FILLED)


def draw_caption(image: np.ndarray, text: str, box, thickness: int) -> None:
    """``text`` on a dark band just outside the box, shrunk to fit the image's width."""
    height, width = image.shape[:2]
    scale = font_scale(text, width)
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, 1)
    band_h = text_h + baseline + 2 * PAD
    gap = thickness  # the band ends before the box's line begins
    top = round(box.y_min) - gap - band_h
    if top < 0:  # no room above: below the box, or at the image's bottom edge
        top = min(round(box.y_max) + gap + 1, height - band_h)
    left = max(0, min(round(box.x_min), width - text_w - 2 * PAD))
    cv2.rectangle(image, (left, top), (left + text_w + 2 * PAD, top + band_h),
                  CAPTION_BACKGROUND, cv2.FILLED)
    cv2.putText(image, text, (left + PAD, top + PAD + text_h), FONT, scale, TEXT_COLOUR, 1,
                cv2.LINE_AA)


def font_scale(text: str, width: int) -> float:
    """The largest scale up to MAX_FONT_SCALE at which ``text`` fits ``width`` (MIN at least)."""
    (text_w, _), _ = cv2.getTextSize(text, FONT, MAX_FONT_SCALE, 1)
    room = width - 2 * PAD
    return max(MIN_FONT_SCALE, min(MAX_FONT_SCALE, MAX_FONT_SCALE * room / max(text_w, 1)))


def write_png(image: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"OpenCV could not encode {path}")
    path.write_bytes(encoded.tobytes())
    return path


def output_path(out_dir: Path, image_path: Path, taken: set[Path]) -> Path:
    """``OUT_DIR/<stem>.png``; a second input with the same stem gets ``<stem>-2.png``."""
    candidate, n = out_dir / f"{image_path.stem}.png", 1
    while candidate in taken:
        n += 1
        candidate = out_dir / f"{image_path.stem}-{n}.png"
    taken.add(candidate)
    return candidate
