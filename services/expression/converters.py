"""Protobuf <-> domain conversion for expression (the only place that knows both)."""
from __future__ import annotations

import numpy as np

from services.expression.handler import ExpressionOutcome
from services.runtime.imaging import ImageLimits, rgb_from_raw
from xcloud.v1 import common_pb2
from xcloud.v1 import expression_pb2 as ex


def crop_from_proto(face: common_pb2.RawImage, max_side: int) -> np.ndarray:
    return rgb_from_raw(face.width, face.height, face.rgb, ImageLimits(max_pixels=max_side * max_side))


def outcome_to_proto(outcome: ExpressionOutcome) -> ex.ExpressionResponse:
    result = ex.ExpressionResult(
        label=outcome.label, probability=outcome.probability,
        probabilities=[ex.ExpressionProbability(label=k, probability=p)
                       for k, p in outcome.probabilities],
    )
    return ex.ExpressionResponse(
        expression=result, model=common_pb2.ModelInfo(name=outcome.model, version=outcome.version)
    )
