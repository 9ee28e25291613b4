"""The face-attributes service as the runtime runs it."""
from __future__ import annotations

from collections.abc import Sequence

import grpc

from services.face_attributes.handler import FaceAttributesHandler
from services.face_attributes.parts import EMBEDDING, PARTS, Part
from services.face_attributes.servicer import FaceAttributesServicer
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.app import ModelServiceApp
from xcloud.v1 import face_attributes_pb2_grpc


class FaceAttributesApp(ModelServiceApp):
    name = "face_attributes"
    service_name = "xcloud.v1.FaceAttributes"

    def __init__(self, settings: FaceAttributesSettings, parts: Sequence[Part] = PARTS,
                 embedding: Part = EMBEDDING):
        super().__init__(settings, [p.model for p in (*parts, embedding)])
        self.handler = FaceAttributesHandler(settings, self.pool, parts, embedding)

    def add_servicer(self, server: grpc.aio.Server) -> None:
        servicer = FaceAttributesServicer(self.handler, self.settings.max_crop_side)
        face_attributes_pb2_grpc.add_FaceAttributesServicer_to_server(servicer, server)

    async def start(self) -> None:
        await super().start()
        self.handler.check_parts()
