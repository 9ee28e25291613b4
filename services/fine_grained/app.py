"""The fine-grained recognition service as the runtime runs it."""
from __future__ import annotations

from typing import ClassVar

import grpc

from services.fine_grained.handler import FineGrainedHandler
from services.fine_grained.servicer import FineGrainedServicer
from services.fine_grained.settings import FineGrainedSettings
from services.runtime.catalog import CatalogServicer
from services.runtime.pool import ModelPool
from xcloud.v1 import common_pb2_grpc, fine_grained_pb2_grpc

SERVICE_NAME = "xcloud.v1.FineGrained"


class FineGrainedApp:
    name = "fine_grained"
    service_names: ClassVar[list[str]] = [SERVICE_NAME, "xcloud.v1.ModelRepository"]

    def __init__(self, settings: FineGrainedSettings):
        self.settings = settings
        self.pool = ModelPool(settings, list(settings.models))
        self.handler = FineGrainedHandler(settings, self.pool)

    def register(self, server: grpc.aio.Server) -> None:
        fine_grained_pb2_grpc.add_FineGrainedServicer_to_server(
            FineGrainedServicer(self.handler), server
        )
        common_pb2_grpc.add_ModelRepositoryServicer_to_server(
            CatalogServicer(self.name, self.pool.statuses), server
        )

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()
