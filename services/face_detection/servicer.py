"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

import asyncio

import grpc

from services.face_detection import converters
from services.face_detection.handler import FaceDetectionHandler
from xcloud.v1 import face_detection_pb2_grpc


def deadline_of(context: grpc.aio.ServicerContext) -> float | None:
    """The caller's deadline on this event loop's clock, if the caller set one."""
    remaining = context.time_remaining()
    return None if remaining is None else asyncio.get_running_loop().time() + remaining


class FaceDetectionServicer(face_detection_pb2_grpc.FaceDetectionServicer):
    def __init__(self, handler: FaceDetectionHandler):
        self._handler = handler

    async def Detect(self, request, context):
        params = converters.params_from_proto(request.options)
        result = await self._handler.detect(request.image.content, params, deadline_of(context))
        return converters.result_to_proto(result)
