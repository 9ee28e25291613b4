"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

from services.fine_grained import converters
from services.fine_grained.handler import FineGrainedHandler
from services.runtime.interceptors import deadline_of
from xcloud.v1 import fine_grained_pb2_grpc


class FineGrainedServicer(fine_grained_pb2_grpc.FineGrainedServicer):
    def __init__(self, handler: FineGrainedHandler):
        self._handler = handler

    async def Classify(self, request, context):
        params = converters.params_from_proto(request)
        result = await self._handler.classify(request.image.content, params, deadline_of(context))
        return converters.result_to_proto(result)
