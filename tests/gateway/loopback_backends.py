"""Small but real gRPC backends for gateway tests, served on 127.0.0.1.

They speak the real protocols (FaceDetection, ModelRepository) with scripted behaviour so
that fan-out, caching, retries, deadlines and partial failures can be tested without models.
"""
from __future__ import annotations

import asyncio

import grpc

from xcloud.v1 import (
    common_pb2,
    common_pb2_grpc,
    face_detection_pb2,
    face_detection_pb2_grpc,
)

CROP_SCORER_SERVICE = "xcloud.test.CropScorer"
CROP_SCORER_METHOD = f"/{CROP_SCORER_SERVICE}/Score"


def fixed_face(index: int, aligned_size: int) -> common_pb2.Face:
    """Face ``index`` (0-based); its aligned crop is filled with the byte index + 1."""
    x = 100.0 * index
    face = common_pb2.Face(
        box=common_pb2.BoundingBox(x_min=x, y_min=10, x_max=x + 50, y_max=70), score=0.99
    )
    face.landmarks.nose.CopyFrom(common_pb2.Point(x=x + 25, y=40))
    if aligned_size:
        face.aligned.CopyFrom(common_pb2.RawImage(
            width=aligned_size, height=aligned_size,
            rgb=bytes([index + 1]) * (aligned_size * aligned_size * 3),
        ))
    return face


class CatalogMixin(common_pb2_grpc.ModelRepositoryServicer):
    """ModelRepository.ListModels answering one model at ``self.version``."""

    model_name = "loopback_model"
    version = "1"

    async def ListModels(self, request, context):
        return common_pb2.ListModelsResponse(models=[common_pb2.ModelDescription(
            model=common_pb2.ModelInfo(name=self.model_name, version=self.version),
            service="loopback", installed=True,
        )])


class CountingDetectionBackend(CatalogMixin, face_detection_pb2_grpc.FaceDetectionServicer):
    """Answers ``faces`` fixed faces and records every Detect request it receives.

    ``gate``, when set, holds every Detect call until the test opens it.
    """

    model_name = "loopback_detector"

    def __init__(self, faces: int = 2, gate: asyncio.Event | None = None):
        self.faces = faces
        self.gate = gate
        self.requests: list[face_detection_pb2.DetectRequest] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def Detect(self, request, context):
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        return self.answer(request)

    def answer(self, request) -> face_detection_pb2.DetectResponse:
        size = request.options.aligned_size
        return face_detection_pb2.DetectResponse(
            faces=[fixed_face(i, size) for i in range(self.faces)],
            model=common_pb2.ModelInfo(name=self.model_name, version=self.version),
            image_width=640, image_height=480,
        )


class FailingDetectionBackend(CountingDetectionBackend):
    """Fails with each code of ``codes`` in turn (one per call), then answers normally."""

    def __init__(self, codes: list[grpc.StatusCode], message: str = "scripted failure"):
        super().__init__()
        self.codes = list(codes)
        self.message = message

    async def Detect(self, request, context):
        self.requests.append(request)
        if self.codes:
            await context.abort(self.codes.pop(0), self.message)
        return self.answer(request)


class SlowDetectionBackend(CountingDetectionBackend):
    """Never answers within any test deadline: sleeps until the caller gives up."""

    async def Detect(self, request, context):
        self.requests.append(request)
        await asyncio.sleep(3600)


class CropScoringBackend(CatalogMixin):
    """A per-face backend: scores an aligned crop by its first byte (the face's fill value).

    Served under a test-only service name; requests are RawImage, answers are Face with only
    ``score`` set, which the test task merges into FaceAnalysis.face.
    """

    model_name = "loopback_scorer"

    def __init__(self) -> None:
        self.crops: list[common_pb2.RawImage] = []

    async def Score(self, request: common_pb2.RawImage, context) -> common_pb2.Face:
        self.crops.append(request)
        return common_pb2.Face(score=float(request.rgb[0]))

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(CROP_SCORER_SERVICE, {
            "Score": grpc.unary_unary_rpc_method_handler(
                self.Score,
                request_deserializer=common_pb2.RawImage.FromString,
                response_serializer=common_pb2.Face.SerializeToString,
            ),
        })


async def serve(servicer) -> tuple[grpc.aio.Server, str]:
    """Start ``servicer`` on a free loopback port; returns the server and its address."""
    server = grpc.aio.server()
    common_pb2_grpc.add_ModelRepositoryServicer_to_server(servicer, server)
    if isinstance(servicer, face_detection_pb2_grpc.FaceDetectionServicer):
        face_detection_pb2_grpc.add_FaceDetectionServicer_to_server(servicer, server)
    if isinstance(servicer, CropScoringBackend):
        server.add_generic_rpc_handlers((servicer.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"
