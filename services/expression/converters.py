"""Protobuf <-> domain conversion for expression (the only place that knows both)."""
from __future__ import annotations

from services.expression.handler import ExpressionOutcome
from xcloud.v1 import common_pb2
from xcloud.v1 import expression_pb2 as ex


def outcome_to_proto(outcome: ExpressionOutcome) -> ex.ExpressionResponse:
    result = ex.ExpressionResult(
        label=outcome.label, probability=outcome.probability,
        probabilities=[ex.ExpressionProbability(label=k, probability=p)
                       for k, p in outcome.probabilities],
    )
    return ex.ExpressionResponse(
        expression=result, model=common_pb2.ModelInfo(name=outcome.model, version=outcome.version)
    )
