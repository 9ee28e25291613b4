"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

from services.expression import converters
from services.expression.handler import ExpressionHandler
from services.expression.settings import ExpressionSettings
from services.runtime.face_crops import crops_from_request
from services.runtime.interceptors import deadline_of
from xcloud.v1 import expression_pb2_grpc

MAX_FACES_SETTING = "XCLOUD_EXPRESSION_MAX_FACES_PER_CALL"


class ExpressionServicer(expression_pb2_grpc.ExpressionServicer):
    def __init__(self, handler: ExpressionHandler, settings: ExpressionSettings):
        self._handler = handler
        self._settings = settings

    async def Classify(self, request, context):
        crops = crops_from_request(request, self._settings.max_crop_side,
                                   self._settings.max_faces_per_call, MAX_FACES_SETTING)
        outcomes = await self._handler.classify_all(crops.crops, deadline_of(context))
        return converters.outcomes_to_proto(outcomes, crops.batched)
