"""The face-detection service as the runtime runs it."""
from __future__ import annotations

import grpc

from services.face_detection.handler import MODELS, FaceDetectionHandler
from services.face_detection.servicer import FaceDetectionServicer
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.catalog import CatalogServicer
from services.runtime.pool import ModelPool
from xcloud.v1 import common_pb2_grpc, face_detection_pb2_grpc

SERVICE_NAME = "xcloud.v1.FaceDetection"


class FaceDetectionApp:
    name = "face_detection"
    service_names = (SERVICE_NAME, "xcloud.v1.ModelRepository")

    def __init__(self, settings: FaceDetectionSettings):
        self.settings = settings
        self.pool = ModelPool(settings, list(MODELS))
        self.handler = FaceDetectionHandler(settings, self.pool)

    def register(self, server: grpc.aio.Server) -> None:
        face_detection_pb2_grpc.add_FaceDetectionServicer_to_server(
            FaceDetectionServicer(self.handler), server
        )
        common_pb2_grpc.add_ModelRepositoryServicer_to_server(
            CatalogServicer(self.name, self.pool.statuses), server
        )

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()
