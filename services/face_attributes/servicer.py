"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

from services.face_attributes import converters
from services.face_attributes.handler import FaceAttributesHandler
from services.runtime.face_crops import crop_from_proto
from services.runtime.interceptors import deadline_of
from xcloud.v1 import face_attributes_pb2_grpc


class FaceAttributesServicer(face_attributes_pb2_grpc.FaceAttributesServicer):
    def __init__(self, handler: FaceAttributesHandler, max_crop_side: int):
        self._handler = handler
        self._max_side = max_crop_side

    async def Predict(self, request, context):
        crop = crop_from_proto(request.face, self._max_side)
        result = await self._handler.predict(crop, deadline_of(context))
        return converters.attributes_to_proto(result)

    async def Embed(self, request, context):
        crop = crop_from_proto(request.face, self._max_side)
        result = await self._handler.embed(crop, deadline_of(context))
        return converters.embedding_to_proto(result)
