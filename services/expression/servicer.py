"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

from services.expression import converters
from services.expression.handler import ExpressionHandler
from services.runtime.face_crops import crop_from_proto
from services.runtime.interceptors import deadline_of
from xcloud.v1 import expression_pb2_grpc


class ExpressionServicer(expression_pb2_grpc.ExpressionServicer):
    def __init__(self, handler: ExpressionHandler, max_crop_side: int):
        self._handler = handler
        self._max_side = max_crop_side

    async def Classify(self, request, context):
        crop = crop_from_proto(request.face, self._max_side)
        outcome = await self._handler.classify(crop, deadline_of(context))
        return converters.outcome_to_proto(outcome)
