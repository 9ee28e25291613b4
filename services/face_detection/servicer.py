"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

from services.face_detection import converters
from services.face_detection.handler import FaceDetectionHandler
from services.runtime.interceptors import deadline_of
from xcloud.v1 import face_detection_pb2_grpc


class FaceDetectionServicer(face_detection_pb2_grpc.FaceDetectionServicer):
    def __init__(self, handler: FaceDetectionHandler):
        self._handler = handler

    async def Detect(self, request, context):
        params = converters.params_from_proto(request.options)
        result = await self._handler.detect(request.image.content, params, deadline_of(context))
        return converters.result_to_proto(result)
