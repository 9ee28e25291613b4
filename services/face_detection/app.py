"""The face-detection service as the runtime runs it."""
from __future__ import annotations

import grpc

from services.face_detection.handler import MODELS, FaceDetectionHandler
from services.face_detection.servicer import FaceDetectionServicer
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.app import ModelServiceApp
from xcloud.v1 import face_detection_pb2_grpc


class FaceDetectionApp(ModelServiceApp):
    name = "face_detection"
    service_name = "xcloud.v1.FaceDetection"

    def __init__(self, settings: FaceDetectionSettings):
        super().__init__(settings, list(MODELS))
        self.handler = FaceDetectionHandler(settings, self.pool)

    def add_servicer(self, server: grpc.aio.Server) -> None:
        face_detection_pb2_grpc.add_FaceDetectionServicer_to_server(
            FaceDetectionServicer(self.handler), server
        )
