"""The expression service as the runtime runs it."""
from __future__ import annotations

from typing import ClassVar

import grpc

from services.expression.handler import ExpressionHandler
from services.expression.servicer import ExpressionServicer
from services.expression.settings import ExpressionSettings
from services.runtime.catalog import CatalogServicer
from services.runtime.pool import ModelPool
from xcloud.v1 import common_pb2_grpc, expression_pb2_grpc

SERVICE_NAME = "xcloud.v1.Expression"


class ExpressionApp:
    name = "expression"
    service_names: ClassVar[list[str]] = [SERVICE_NAME, "xcloud.v1.ModelRepository"]

    def __init__(self, settings: ExpressionSettings):
        self.settings = settings
        self.pool = ModelPool(settings, [settings.model])
        self.handler = ExpressionHandler(settings, self.pool)

    def register(self, server: grpc.aio.Server) -> None:
        servicer = ExpressionServicer(self.handler, self.settings.max_crop_side)
        expression_pb2_grpc.add_ExpressionServicer_to_server(servicer, server)
        common_pb2_grpc.add_ModelRepositoryServicer_to_server(
            CatalogServicer(self.name, self.pool.statuses), server
        )

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()
