"""The fine-grained recognition service as the runtime runs it."""
from __future__ import annotations

import grpc

from services.fine_grained.handler import FineGrainedHandler
from services.fine_grained.servicer import FineGrainedServicer
from services.fine_grained.settings import FineGrainedSettings
from services.runtime.app import ModelServiceApp
from xcloud.v1 import fine_grained_pb2_grpc


class FineGrainedApp(ModelServiceApp):
    name = "fine_grained"
    service_name = "xcloud.v1.FineGrained"

    def __init__(self, settings: FineGrainedSettings):
        super().__init__(settings, list(settings.models))
        self.handler = FineGrainedHandler(settings, self.pool)

    def add_servicer(self, server: grpc.aio.Server) -> None:
        fine_grained_pb2_grpc.add_FineGrainedServicer_to_server(
            FineGrainedServicer(self.handler), server
        )
