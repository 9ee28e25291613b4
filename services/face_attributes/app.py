"""The face-attributes service as the runtime runs it."""
from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import grpc

from services.face_attributes.handler import FaceAttributesHandler
from services.face_attributes.parts import EMBEDDING, PARTS, Part
from services.face_attributes.servicer import FaceAttributesServicer
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.catalog import CatalogServicer
from services.runtime.pool import ModelPool
from xcloud.v1 import common_pb2_grpc, face_attributes_pb2_grpc

SERVICE_NAME = "xcloud.v1.FaceAttributes"


class FaceAttributesApp:
    name = "face_attributes"
    service_names: ClassVar[list[str]] = [SERVICE_NAME, "xcloud.v1.ModelRepository"]

    def __init__(self, settings: FaceAttributesSettings, parts: Sequence[Part] = PARTS,
                 embedding: Part = EMBEDDING):
        self.settings = settings
        models = dict.fromkeys(p.model for p in (*parts, embedding))  # in order, no repeats
        self.pool = ModelPool(settings, list(models))
        self.handler = FaceAttributesHandler(settings, self.pool, parts, embedding)

    def register(self, server: grpc.aio.Server) -> None:
        servicer = FaceAttributesServicer(self.handler, self.settings.max_crop_side)
        face_attributes_pb2_grpc.add_FaceAttributesServicer_to_server(servicer, server)
        common_pb2_grpc.add_ModelRepositoryServicer_to_server(
            CatalogServicer(self.name, self.pool.statuses), server
        )

    async def start(self) -> None:
        await self.pool.start()
        self.handler.check_parts()

    async def stop(self) -> None:
        await self.pool.stop()
