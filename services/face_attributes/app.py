"""The face-attributes service as the runtime runs it."""
from __future__ import annotations

from collections.abc import Sequence

import grpc

from services.face_attributes.handler import FaceAttributesHandler
from services.face_attributes.parts import EMBEDDINGS, PARTS, Part
from services.face_attributes.servicer import FaceAttributesServicer
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.app import ModelServiceApp
from xcloud.v1 import face_attributes_pb2_grpc


class FaceAttributesApp(ModelServiceApp):
    name = "face_attributes"
    service_name = "xcloud.v1.FaceAttributes"

    def __init__(self, settings: FaceAttributesSettings, parts: Sequence[Part] = PARTS,
                 embedding: Part | Sequence[Part] = EMBEDDINGS):
        embeddings = (embedding,) if isinstance(embedding, Part) else tuple(embedding)
        # a model of the table that is not installed (the trunk, a fallback) is reported, not fatal
        super().__init__(settings, [p.model for p in (*parts, *embeddings)])
        self.handler = FaceAttributesHandler(settings, self.pool, parts, embeddings)

    def add_servicer(self, server: grpc.aio.Server) -> None:
        servicer = FaceAttributesServicer(self.handler, self.settings)
        face_attributes_pb2_grpc.add_FaceAttributesServicer_to_server(servicer, server)

    async def start(self) -> None:
        await super().start()
        self.handler.check_parts()
