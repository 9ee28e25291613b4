"""The content-quality service as the runtime runs it."""
from __future__ import annotations

import grpc

from services.runtime.catalog import CatalogServicer
from services.runtime.pool import ModelPool
from services.text_quality.handler import TextQualityHandler
from services.text_quality.servicer import TextQualityServicer
from services.text_quality.settings import TextQualitySettings
from xcloud.v1 import common_pb2_grpc, text_quality_pb2_grpc

SERVICE_NAME = "xcloud.v1.TextQuality"


class TextQualityApp:
    name = "text_quality"

    def __init__(self, settings: TextQualitySettings):
        self.service_names = [SERVICE_NAME, "xcloud.v1.ModelRepository"]
        self.settings = settings
        self.pool = ModelPool(settings, [settings.model])
        self.handler = TextQualityHandler(settings, self.pool)

    def register(self, server: grpc.aio.Server) -> None:
        text_quality_pb2_grpc.add_TextQualityServicer_to_server(
            TextQualityServicer(self.handler), server
        )
        common_pb2_grpc.add_ModelRepositoryServicer_to_server(
            CatalogServicer(self.name, self.pool.statuses), server
        )

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()
