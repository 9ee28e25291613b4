"""The content-quality service as the runtime runs it."""
from __future__ import annotations

import grpc

from services.runtime.app import ModelServiceApp
from services.text_quality.handler import TextQualityHandler
from services.text_quality.servicer import TextQualityServicer
from services.text_quality.settings import TextQualitySettings
from xcloud.v1 import text_quality_pb2_grpc


class TextQualityApp(ModelServiceApp):
    name = "text_quality"
    service_name = "xcloud.v1.TextQuality"

    def __init__(self, settings: TextQualitySettings):
        super().__init__(settings, [settings.model])
        self.handler = TextQualityHandler(settings, self.pool)

    def add_servicer(self, server: grpc.aio.Server) -> None:
        text_quality_pb2_grpc.add_TextQualityServicer_to_server(
            TextQualityServicer(self.handler), server
        )
