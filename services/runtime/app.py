"""What every model service shares: a model pool, its own servicer, and the ModelRepository
catalog beside it (which the gateway asks for model versions). A service subclasses
``ModelServiceApp``, names its gRPC service and adds its servicer; the runtime's server
(services/runtime/server.py) runs it."""
from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import grpc

from services.runtime.catalog import CatalogServicer
from services.runtime.pool import ModelPool
from services.runtime.settings import ServiceSettings
from xcloud.v1 import common_pb2_grpc

CATALOG_SERVICE = "xcloud.v1.ModelRepository"


class ModelServiceApp:
    name: ClassVar[str]          # e.g. "face_detection": metric labels, logs, catalog
    service_name: ClassVar[str]  # the full gRPC service name, e.g. "xcloud.v1.FaceDetection"

    def __init__(self, settings: ServiceSettings, models: Sequence[str]):
        self.settings = settings
        self.pool = ModelPool(settings, list(dict.fromkeys(models)))  # in order, no repeats

    @property
    def service_names(self) -> list[str]:
        return [self.service_name, CATALOG_SERVICE]

    def register(self, server: grpc.aio.Server) -> None:
        self.add_servicer(server)
        common_pb2_grpc.add_ModelRepositoryServicer_to_server(
            CatalogServicer(self.name, self.pool.statuses), server
        )

    def add_servicer(self, server: grpc.aio.Server) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()
