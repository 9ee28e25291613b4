"""Protobuf <-> domain conversion for fine-grained recognition (the only place that knows both)."""
from __future__ import annotations

from services.fine_grained.handler import ClassifyParams, ClassifyResult
from xcloud.v1 import common_pb2
from xcloud.v1 import fine_grained_pb2 as fg


def params_from_proto(request: fg.FineGrainedClassifyRequest) -> ClassifyParams:
    box = None
    if request.HasField("box"):
        b = request.box
        box = (b.x_min, b.y_min, b.x_max, b.y_max)
    return ClassifyParams(model=request.model, top_k=request.top_k, box=box)


def result_to_proto(result: ClassifyResult) -> fg.FineGrainedClassifyResponse:
    return fg.FineGrainedClassifyResponse(
        labels=[fg.FineGrainedLabel(name=label.name, index=label.index,
                                    probability=label.probability) for label in result.labels],
        model=common_pb2.ModelInfo(name=result.model, version=result.version),
    )
