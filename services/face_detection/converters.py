"""Protobuf <-> domain conversion for face detection (the only place that knows both)."""
from __future__ import annotations

import numpy as np

from services.face_detection.handler import DetectedFace, DetectionResult, DetectParams
from xcloud.v1 import common_pb2, face_detection_pb2

LANDMARK_FIELDS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def params_from_proto(options: face_detection_pb2.DetectOptions) -> DetectParams:
    return DetectParams(
        model=options.model,
        min_face_size=options.min_face_size,
        score_threshold=options.score_threshold,
        max_faces=options.max_faces,
        aligned_size=options.aligned_size,
        aligned_margin=options.aligned_margin,
    )


def raw_image(rgb: np.ndarray) -> common_pb2.RawImage:
    height, width = rgb.shape[:2]
    return common_pb2.RawImage(width=width, height=height, rgb=np.ascontiguousarray(rgb).tobytes())


def face_to_proto(face: DetectedFace) -> common_pb2.Face:
    x1, y1, x2, y2 = (float(v) for v in face.box)
    message = common_pb2.Face(
        box=common_pb2.BoundingBox(x_min=x1, y_min=y1, x_max=x2, y_max=y2), score=face.score
    )
    for field, (x, y) in zip(LANDMARK_FIELDS, face.landmarks):
        getattr(message.landmarks, field).CopyFrom(common_pb2.Point(x=float(x), y=float(y)))
    if face.aligned is not None:
        message.aligned.CopyFrom(raw_image(face.aligned))
    return message


def landmarks_from_proto(landmarks: common_pb2.Landmarks) -> np.ndarray:
    return np.array(
        [[getattr(landmarks, f).x, getattr(landmarks, f).y] for f in LANDMARK_FIELDS], np.float32
    )


def result_to_proto(result: DetectionResult) -> face_detection_pb2.DetectResponse:
    return face_detection_pb2.DetectResponse(
        faces=[face_to_proto(f) for f in result.faces],
        model=common_pb2.ModelInfo(name=result.model, version=result.version),
        image_width=result.width,
        image_height=result.height,
    )
