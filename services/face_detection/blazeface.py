"""BlazeFace face detection (MediaPipe's short-range "front" model) over an injected ``infer``.

One network pass per image: the image is scaled to fit 256x256 (aspect kept, placed top-left,
the rest black), the model scores 896 anchors and regresses a box and 6 keypoints for each;
we keep anchors above the score threshold and merge overlapping ones by weighted NMS (as
MediaPipe does: the cluster's boxes and keypoints averaged by score), then map back to the
original image. The model sees the whole image at 256 px, so it is made for faces that fill a
good part of it: SCUT-FBP5500 faces pasted on plain grey canvases are found down to an eye
distance of about 3 % of the image's longer side (8 px in the input; 99.5 % found), 95 % at
2.2 % (`xcloud eval blazeface`). MTCNN is the choice for small faces in a busy scene.

Landmarks come out in our subject's-view order. BlazeFace's keypoints are (checked on a real
frontal photo): subject's right eye, subject's left eye, nose tip, mouth centre, subject's right
ear, subject's left ear. It has no mouth corners: we ESTIMATE them from the mouth centre, placed
along the eye axis at the ArcFace template's mouth-width-to-eye-distance ratio, so they follow
head roll and scale but not the actual mouth shape.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import cv2
import numpy as np

from services.face_detection.mtcnn import Detection, Infer
from services.face_detection.nms import iou
from services.runtime.alignment import TEMPLATE_112
from xcloud import names

MODEL = names.BLAZEFACE
INPUT_SIZE = 256
# (stride, anchors per cell) in the order of the model's output rows: a 16x16 grid with 2
# anchors per cell (512 rows), then an 8x8 grid with 6 (384 rows); every anchor of a cell has
# the same centre, stride * (cell + 0.5), in input pixels.
ANCHOR_LAYERS = ((16, 2), (32, 6))
# Clear faces score only 0.84-0.9. 0.75 keeps every SCUT-FBP5500 face at 0.002 false faces per
# flowers17 image; MediaPipe's own 0.5 let through 0.15 per image (on a 1-in-10 sample).
DEFAULT_SCORE_THRESHOLD = 0.75
RIGHT_EYE, LEFT_EYE, NOSE, MOUTH = 0, 1, 2, 3  # keypoint rows, subject's view
LOGIT_LIMIT = 100.0  # MediaPipe clips raw scores the same way before the sigmoid


def anchor_centres(size: int = INPUT_SIZE) -> np.ndarray:
    """(896, 2) anchor centres (x, y) in input pixels, in output-row order."""
    centres = []
    for stride, per_cell in ANCHOR_LAYERS:
        cells = np.arange(size // stride, dtype=np.float32)
        ys, xs = np.meshgrid(cells, cells, indexing="ij")  # row-major: y outer, x inner
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(stride * (grid + 0.5), per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


ANCHORS = anchor_centres()


def _mouth_half_width() -> float:
    # Half the mouth width over the eye distance, measured along the eye axis of the template.
    eyes = TEMPLATE_112[0] - TEMPLATE_112[1]
    mouth = TEMPLATE_112[3] - TEMPLATE_112[4]
    return float(np.dot(mouth, eyes) / (2.0 * np.dot(eyes, eyes)))


MOUTH_HALF_WIDTH = _mouth_half_width()  # about 0.41


@dataclass(frozen=True)
class BlazeFaceParams:
    min_face_size: float = 20.0  # smallest box side kept, in original-image pixels
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    max_faces: int = 0  # 0 = all, else keep highest scores
    iou_threshold: float = 0.3  # MediaPipe's min_suppression_threshold


def input_tensor(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(256, 256, 3) float32 in [-1, 1], and the (x, y) size of one input pixel in the image."""
    height, width = rgb.shape[:2]
    side = max(height, width)
    new_w = max(1, round(width * INPUT_SIZE / side))
    new_h = max(1, round(height * INPUT_SIZE / side))
    # Area averaging when shrinking: plain bilinear would alias on large photos.
    method = cv2.INTER_AREA if side > INPUT_SIZE else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=method)
    tensor = np.full((INPUT_SIZE, INPUT_SIZE, 3), -1.0, np.float32)  # black, normalised
    tensor[:new_h, :new_w] = resized.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return tensor, np.array([width / new_w, height / new_h], np.float32)


def decode(raw: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model rows (896, 17) -> scores (896,), boxes (896, 4) and keypoints (896, 6, 2) in image
    pixels.

    A row is [logit, dx, dy, w, h, 6 x (kx, ky)]: box centre and keypoints are offsets from the
    anchor centre, box size absolute, all in input pixels.
    """
    # float64: exp(100) overflows float32
    logits = np.clip(raw[:, 0].astype(np.float64), -LOGIT_LIMIT, LOGIT_LIMIT)
    scores = 1.0 / (1.0 + np.exp(-logits))
    centres = ANCHORS + raw[:, 1:3]
    half = raw[:, 3:5] / 2
    boxes = np.concatenate([centres - half, centres + half], axis=1) * np.tile(scale, 2)
    points = (raw[:, 5:].reshape(-1, 6, 2) + ANCHORS[:, None, :]) * scale
    return scores.astype(np.float32), boxes.astype(np.float32), points.astype(np.float32)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, points: np.ndarray, threshold: float
                 ) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Clusters of overlapping candidates, best first: (top score, mean box, mean keypoints).

    Each cluster is the best remaining candidate and every candidate overlapping it by more than
    ``threshold`` IoU; its box and keypoints are the score-weighted mean of the members', which
    steadies them against the anchor grid.
    """
    remaining = np.argsort(-scores, kind="stable")
    clusters = []
    while remaining.size:
        members = iou(boxes[remaining[:1]], boxes[remaining])[0] > threshold
        members[0] = True  # a degenerate box overlaps nothing, not even itself
        chosen = remaining[members]
        weights = scores[chosen] / scores[chosen].sum()
        box = np.tensordot(weights, boxes[chosen], axes=1)
        marks = np.tensordot(weights, points[chosen], axes=1)
        clusters.append((float(scores[remaining[0]]), box, marks))
        remaining = remaining[~members]
    return clusters


def subject_landmarks(keypoints: np.ndarray) -> np.ndarray:
    """BlazeFace's 6 keypoints -> our 5 (subject's left eye, right eye, nose, mouth left, right)."""
    left_eye, right_eye = keypoints[LEFT_EYE], keypoints[RIGHT_EYE]
    # The subject's left mouth corner lies towards the subject's left eye along the eye axis.
    offset = MOUTH_HALF_WIDTH * (left_eye - right_eye)
    mouth = keypoints[MOUTH]
    points = [left_eye, right_eye, keypoints[NOSE], mouth + offset, mouth - offset]
    return np.stack(points).astype(np.float32)


def detections(raw: np.ndarray, scale: np.ndarray, params: BlazeFaceParams) -> list[Detection]:
    """Faces from one image's model rows, highest score first."""
    scores, boxes, points = decode(raw, scale)
    keep = scores >= params.score_threshold
    found = []
    merged = weighted_nms(scores[keep], boxes[keep], points[keep], params.iou_threshold)
    for score, box, marks in merged:
        if max(box[2] - box[0], box[3] - box[1]) >= params.min_face_size:
            found.append(Detection(box.astype(np.float32), score, subject_landmarks(marks)))
    return found[: params.max_faces] if params.max_faces > 0 else found


class BlazeFaceDetector:
    def __init__(self, infer: Infer):
        self._infer = infer

    async def detect(self, rgb: np.ndarray,
                     params: BlazeFaceParams = BlazeFaceParams()) -> list[Detection]:
        """Faces in an HxWx3 uint8 RGB image, highest score first."""
        # Resizing a large photo is most of the CPU time outside the model: a worker thread
        # does it (cv2 releases the GIL), as MTCNN does its resampling, so the loop stays free.
        tensor, scale = await asyncio.to_thread(input_tensor, rgb)
        (raw,) = await self._infer(MODEL, tensor[None])
        return await asyncio.to_thread(detections, raw[0], scale, params)
