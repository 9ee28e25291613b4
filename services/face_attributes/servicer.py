"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

from services.face_attributes import converters
from services.face_attributes.handler import FaceAttributesHandler
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.face_crops import FaceCrops, crops_from_request
from services.runtime.interceptors import deadline_of
from xcloud.v1 import face_attributes_pb2_grpc

MAX_FACES_SETTING = "XCLOUD_FACE_ATTRIBUTES_MAX_FACES_PER_CALL"


class FaceAttributesServicer(face_attributes_pb2_grpc.FaceAttributesServicer):
    def __init__(self, handler: FaceAttributesHandler, settings: FaceAttributesSettings):
        self._handler = handler
        self._settings = settings

    def _crops(self, request) -> FaceCrops:
        return crops_from_request(request, self._settings.max_crop_side,
                                  self._settings.max_faces_per_call, MAX_FACES_SETTING)

    async def Predict(self, request, context):
        crops = self._crops(request)
        answer = await self._handler.analyze(
            crops.crops, embedding=request.with_embedding,
            accurate=converters.accurate(request.mode), deadline=deadline_of(context))
        return converters.answer_to_proto(answer, crops.batched, request.with_embedding)

    async def Embed(self, request, context):
        crops = self._crops(request)
        answer = await self._handler.analyze(
            crops.crops, attributes=False, embedding=True,
            accurate=converters.accurate(request.mode), deadline=deadline_of(context))
        return converters.embeddings_to_proto(answer.embeddings, crops.batched)
