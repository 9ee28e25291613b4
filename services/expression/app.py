"""The expression service as the runtime runs it."""
from __future__ import annotations

import grpc

from services.expression.handler import ExpressionHandler
from services.expression.servicer import ExpressionServicer
from services.expression.settings import ExpressionSettings
from services.runtime.app import ModelServiceApp
from xcloud.v1 import expression_pb2_grpc


class ExpressionApp(ModelServiceApp):
    name = "expression"
    service_name = "xcloud.v1.Expression"

    def __init__(self, settings: ExpressionSettings):
        super().__init__(settings, [settings.model])
        self.handler = ExpressionHandler(settings, self.pool)

    def add_servicer(self, server: grpc.aio.Server) -> None:
        servicer = ExpressionServicer(self.handler, self.settings)
        expression_pb2_grpc.add_ExpressionServicer_to_server(servicer, server)
