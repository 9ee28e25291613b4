"""Small but real per-face backends for gateway tests: FaceAttributes and Expression over gRPC
on 127.0.0.1, answering from each crop's fill byte (CountingDetectionBackend fills face i's
crop with i + 1), and recording every request so that tests can count calls and faces."""
from __future__ import annotations

import grpc

from tests.gateway.loopback_backends import CatalogMixin
from xcloud.v1 import (
    common_pb2,
    common_pb2_grpc,
    expression_pb2,
    expression_pb2_grpc,
    face_attributes_pb2_grpc,
)
from xcloud.v1 import face_attributes_pb2 as fa

NOT_INSTALLED = common_pb2.STATUS_CODE_FAILED_PRECONDITION


def fill(crop: common_pb2.RawImage) -> int:
    return crop.rgb[0]


class CountingFaceAttributesBackend(CatalogMixin, face_attributes_pb2_grpc.FaceAttributesServicer):
    """age = the crop's fill byte (+ 0.5 in the accurate mode); embedding = [fill, side].
    ``embedding_installed=False`` answers Predict's embeddings as "not installed"."""

    model_name = "loopback_attributes"

    def __init__(self, embedding_installed: bool = True):
        self.embedding_installed = embedding_installed
        self.requests: list[tuple[str, object]] = []  # (method, request)

    def calls(self, method: str | None = None) -> int:
        return sum(1 for m, _ in self.requests if method in (None, m))

    def _model(self) -> common_pb2.ModelInfo:
        return common_pb2.ModelInfo(name=self.model_name, version=self.version)

    def _attributes(self, crop: common_pb2.RawImage, mode: int) -> fa.FaceAttributesResult:
        bonus = 0.5 if mode == fa.FACE_ATTRIBUTES_MODE_ACCURATE else 0.0
        return fa.FaceAttributesResult(
            age=fa.AgeEstimate(years=fill(crop) + bonus),
            statuses=[common_pb2.TaskStatus(task="age", model=self._model())])

    def _embedding(self, crop: common_pb2.RawImage) -> fa.FaceEmbedding:
        return fa.FaceEmbedding(values=[fill(crop), crop.width], same_person_distance=0.6,
                                model=self._model())

    async def Predict(self, request, context):
        self.requests.append(("Predict", request))
        faces = list(request.faces) or [request.face]
        response = fa.FaceAttributesResponse(model=self._model())
        if request.faces:
            response.results.extend(self._attributes(f, request.mode) for f in faces)
        else:
            response.attributes.CopyFrom(self._attributes(request.face, request.mode))
        if request.with_embedding and self.embedding_installed:
            response.embeddings.extend(self._embedding(f) for f in faces)
            response.embedding_status.CopyFrom(common_pb2.TaskStatus(task="embedding",
                                                                     model=self._model()))
        elif request.with_embedding:
            response.embedding_status.CopyFrom(common_pb2.TaskStatus(
                task="embedding", code=NOT_INSTALLED,
                message="model loopback_embedding is not installed"))
        return response

    async def Embed(self, request, context):
        self.requests.append(("Embed", request))
        response = fa.FaceEmbeddingResponse(model=self._model())
        response.embeddings.extend(self._embedding(f) for f in request.faces)
        return response


class CountingExpressionBackend(CatalogMixin, expression_pb2_grpc.ExpressionServicer):
    """label "happy" with probability fill / 10 per face."""

    model_name = "loopback_expression"

    def __init__(self) -> None:
        self.requests: list[expression_pb2.ExpressionRequest] = []

    async def Classify(self, request, context):
        self.requests.append(request)
        results = [expression_pb2.ExpressionResult(label="happy", probability=fill(f) / 10)
                   for f in request.faces]
        return expression_pb2.ExpressionResponse(
            results=results, model=common_pb2.ModelInfo(name=self.model_name, version=self.version))


async def serve_face_backend(servicer) -> tuple[grpc.aio.Server, str]:
    """Start ``servicer`` on a free loopback port; returns the server and its address."""
    server = grpc.aio.server()
    common_pb2_grpc.add_ModelRepositoryServicer_to_server(servicer, server)
    if isinstance(servicer, CountingFaceAttributesBackend):
        face_attributes_pb2_grpc.add_FaceAttributesServicer_to_server(servicer, server)
    else:
        expression_pb2_grpc.add_ExpressionServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"
