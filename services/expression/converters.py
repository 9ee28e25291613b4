"""Protobuf <-> domain conversion for expression (the only place that knows both)."""
from __future__ import annotations

from services.expression.handler import ExpressionOutcome
from xcloud.v1 import common_pb2
from xcloud.v1 import expression_pb2 as ex


def _result(outcome: ExpressionOutcome) -> ex.ExpressionResult:
    return ex.ExpressionResult(
        label=outcome.label, probability=outcome.probability,
        probabilities=[ex.ExpressionProbability(label=k, probability=p)
                       for k, p in outcome.probabilities],
    )


def outcomes_to_proto(outcomes: list[ExpressionOutcome], batched: bool) -> ex.ExpressionResponse:
    """``expression`` for a ``face`` request, ``results`` (in face order) for ``faces``."""
    response = ex.ExpressionResponse()
    if outcomes:
        response.model.CopyFrom(common_pb2.ModelInfo(name=outcomes[0].model,
                                                     version=outcomes[0].version))
    if batched:
        response.results.extend(_result(o) for o in outcomes)
    elif outcomes:
        response.expression.CopyFrom(_result(outcomes[0]))
    return response


def outcome_to_proto(outcome: ExpressionOutcome) -> ex.ExpressionResponse:
    return outcomes_to_proto([outcome], batched=False)
