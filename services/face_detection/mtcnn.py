"""MTCNN face detection (P-Net -> R-Net -> O-Net) over an injected, transport-free ``infer``.

The cascade follows facenet-pytorch 2.6.0's ``detect_face`` (which is what the pretrained
weights were validated with) so that its results can be reproduced to within float noise:

1. image pyramid; P-Net once per scale; NMS 0.5 per scale, then 0.7 across scales;
2. squared, clipped crops of every candidate -> R-Net in one batch; NMS 0.7;
3. the survivors -> O-Net in one batch; landmarks; final NMS 0.7 over the smaller box ("Min").

The networks run wherever ``infer`` sends them (a batching onnxruntime session in the service,
a plain session in tests); this module needs numpy only.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from services.face_detection import boxes as B
from services.face_detection.nms import nms
from xcloud import names

# model name (one of names.MTCNN), float32 NCHW batch
# -> the model's outputs in ONNX output order.
Infer = Callable[[str, np.ndarray], Awaitable[Sequence[np.ndarray]]]

PNET, RNET, ONET = names.MTCNN
MODELS = (PNET, RNET, ONET)

# O-Net's points are named as seen in the image: [image-left eye, image-right eye, nose,
# image-left mouth corner, image-right mouth corner]. Our API (common.proto Landmarks) names
# them from the subject's view: the subject's left eye is the one on the RIGHT of a frontal
# photo. This permutation turns the former into the latter.
SUBJECT_ORDER = np.array([1, 0, 2, 4, 3])


@dataclass(frozen=True)
class MtcnnParams:
    min_face_size: float = 20.0
    stage_thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    scale_factor: float = 0.709
    score_threshold: float = 0.0  # final filter on O-Net score, applied after stage 3
    max_faces: int = 0  # 0 = all, else keep highest scores


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # (4,) float32 x1, y1, x2, y2 in input-image pixels
    score: float
    # (5, 2) float32 (x, y), subject's view: left eye, right eye, nose, mouth left, mouth right
    landmarks: np.ndarray


class MtcnnDetector:
    def __init__(self, infer: Infer):
        self._infer = infer

    async def detect(self, rgb: np.ndarray, params: MtcnnParams = MtcnnParams()) -> list[Detection]:
        """Faces in an HxWx3 uint8 RGB image, highest score first."""
        _check_image(rgb)
        # The resampling below is most of a detection's CPU time: it runs in worker threads
        # (numpy releases the GIL) so the event loop keeps serving other requests meanwhile.
        sampler = await asyncio.to_thread(B.AreaSampler, rgb)
        boxes = await self._propose(sampler, rgb.shape[:2], params)
        if len(boxes):
            boxes = await self._refine(sampler, boxes, params.stage_thresholds[1])
        if not len(boxes):
            return []
        boxes, points = await self._output(sampler, boxes, params.stage_thresholds[2])
        return _detections(boxes, points, params)

    async def _propose(
        self, sampler: B.AreaSampler, hw: tuple[int, int], params: MtcnnParams
    ) -> np.ndarray:
        """Stage 1: squared candidate boxes (n, 5) [x1, y1, x2, y2, score]."""
        h, w = hw
        found = []
        for scale in B.pyramid_scales(h, w, params.min_face_size, params.scale_factor):
            level = await asyncio.to_thread(
                sampler.resample, 0, h, 0, w, int(h * scale + 1), int(w * scale + 1)
            )
            reg, prob = await self._infer(PNET, level[None])
            # Decoding and NMS of a textured 40 Mpx image take seconds: off the event loop,
            # like every numpy step here, so health and other calls keep being answered.
            found.append(await asyncio.to_thread(
                _level_candidates, reg[0], prob[0, 1], scale, params.stage_thresholds[0]))
        if not found:  # image smaller than one P-Net window at min_face_size
            return np.zeros((0, 5), np.float32)
        return await asyncio.to_thread(_merge_levels, found)

    async def _refine(self, sampler: B.AreaSampler, boxes: np.ndarray, threshold: float
                      ) -> np.ndarray:
        """Stage 2: R-Net rescoring and regression of every candidate, in one batch."""
        boxes, batch = await asyncio.to_thread(_crop_batch, sampler, boxes, 24)
        if not len(boxes):
            return boxes
        reg, prob = await self._infer(RNET, batch)
        return await asyncio.to_thread(_rnet_boxes, boxes, reg, prob, threshold)

    async def _output(
        self, sampler: B.AreaSampler, boxes: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stage 3: O-Net score, final boxes (n, 5) and image-order landmarks (n, 5, 2)."""
        boxes, batch = await asyncio.to_thread(_crop_batch, sampler, boxes, 48)
        if not len(boxes):
            return boxes, np.zeros((0, 5, 2), np.float32)
        reg, marks, prob = await self._infer(ONET, batch)
        return await asyncio.to_thread(_onet_boxes, boxes, reg, marks, prob, threshold)


def _level_candidates(reg: np.ndarray, prob: np.ndarray, scale: float,
                      threshold: float) -> np.ndarray:
    cand = B.heatmap_candidates(reg, prob, scale, threshold)
    return cand[nms(cand[:, :4], cand[:, 4], 0.5)]


def _merge_levels(found: list[np.ndarray]) -> np.ndarray:
    cand = np.concatenate(found)
    cand = cand[nms(cand[:, :4], cand[:, 4], 0.7)]
    boxes = B.square(B.regress(cand[:, :4], cand[:, 5:9], inclusive=False))
    return np.concatenate([boxes, cand[:, 4:5]], axis=1)


def _rnet_boxes(boxes: np.ndarray, reg: np.ndarray, prob: np.ndarray,
                threshold: float) -> np.ndarray:
    keep = prob[:, 1] > threshold
    boxes = np.concatenate([boxes[keep, :4], prob[keep, 1:2]], axis=1)
    reg = reg[keep]
    pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
    boxes, reg = boxes[pick], reg[pick]
    return np.concatenate([B.square(B.regress(boxes, reg, inclusive=True)), boxes[:, 4:5]], 1)


def _onet_boxes(boxes: np.ndarray, reg: np.ndarray, marks: np.ndarray, prob: np.ndarray,
                threshold: float) -> tuple[np.ndarray, np.ndarray]:
    keep = prob[:, 1] > threshold
    boxes, reg, marks = boxes[keep], reg[keep], marks[keep]
    points = _decode_landmarks(boxes, marks)
    boxes = np.concatenate([B.regress(boxes, reg, inclusive=True), prob[keep, 1:2]], axis=1)
    # facenet-pytorch's final NMS: "+1" areas, overlap over the smaller box, later box wins ties.
    pick = nms(boxes[:, :4], boxes[:, 4], 0.7, "min", inclusive=True, last_wins_ties=True)
    return boxes[pick], points[pick]


def _check_image(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")


def _crop_batch(sampler: B.AreaSampler, boxes: np.ndarray, size: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes whose crop is not empty, and their crops resized to size x size."""
    h, w = sampler.integral.shape[0] - 1, sampler.integral.shape[1] - 1
    regions, valid = B.crop_regions(boxes, h, w)
    return boxes[valid], B.crops(sampler, regions[valid], size)


def _decode_landmarks(boxes: np.ndarray, marks: np.ndarray) -> np.ndarray:
    # O-Net gives fractions of the (inclusive) crop size; the -1 is facenet-pytorch's 1-based
    # legacy from the MATLAB original, kept for parity.
    w = (boxes[:, 2] - boxes[:, 0] + np.float32(1.0))[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + np.float32(1.0))[:, None]
    xs = w * marks[:, :5] + boxes[:, 0:1] - np.float32(1.0)
    ys = h * marks[:, 5:] + boxes[:, 1:2] - np.float32(1.0)
    return np.stack([xs, ys], axis=2).astype(np.float32)


def _detections(boxes: np.ndarray, points: np.ndarray, params: MtcnnParams) -> list[Detection]:
    keep = boxes[:, 4] >= params.score_threshold
    boxes, points = boxes[keep], points[keep]
    order = np.argsort(-boxes[:, 4], kind="stable")
    if params.max_faces > 0:
        order = order[: params.max_faces]
    return [
        Detection(
            box=boxes[i, :4].astype(np.float32).copy(),
            score=float(boxes[i, 4]),
            landmarks=points[i][SUBJECT_ORDER].astype(np.float32).copy(),
        )
        for i in order
    ]
