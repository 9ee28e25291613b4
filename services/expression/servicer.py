"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

import asyncio

import grpc

from services.expression import converters
from services.expression.handler import ExpressionHandler
from xcloud.v1 import expression_pb2_grpc


def deadline_of(context: grpc.aio.ServicerContext) -> float | None:
    """The caller's deadline on this event loop's clock, if the caller set one."""
    remaining = context.time_remaining()
    return None if remaining is None else asyncio.get_running_loop().time() + remaining


class ExpressionServicer(expression_pb2_grpc.ExpressionServicer):
    def __init__(self, handler: ExpressionHandler, max_crop_side: int):
        self._handler = handler
        self._max_side = max_crop_side

    async def Classify(self, request, context):
        crop = converters.crop_from_proto(request.face, self._max_side)
        outcome = await self._handler.classify(crop, deadline_of(context))
        return converters.outcome_to_proto(outcome)
