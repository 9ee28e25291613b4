"""python -m benchmarks.naive_server: the per-face pipeline served the naive way, as a baseline.

What a first version of this project would have been (the seed's style): one process, one
image at a time (a synchronous gRPC server with one worker thread), PyTorch eager with its
default threads, no batching, no cache. It answers ``xcloud.v1.Gateway/Analyze`` so the same
client sends it the same requests as the gateway. The models and weights are the ones
``make models`` exports: the PyTorch modules of ``models/`` with their committed or pinned
weights (MTCNN P/R/O-Nets, the shared face trunk, face-api's expression net), run directly.

Each face goes through the trunk and the expression net alone (batch of one). The answer
carries the boxes, scores and one status per task; the per-face values are computed, not sent.

Reads ``XCLOUD_NAIVE_HOST`` and ``XCLOUD_NAIVE_PORT`` (0: a free port) and prints the stack's
READY line once it serves.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import torch

from benchmarks.face_views import EMBEDDING, EXPRESSION, face_rows
from models.attributes import trunk
from models.faceapi import export as faceapi_export
from models.identity import export as identity_export
from models.identity.export import EmbeddingNet
from models.mtcnn.export import SPECS as MTCNN_SPECS
from models.mtcnn.nets import load_net
from models.packages import FACENET_PYTORCH, fetch_file
from services.face_detection.converters import face_to_proto
from services.face_detection.handler import DetectedFace
from services.face_detection.mtcnn import MtcnnDetector, MtcnnParams
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from xcloud.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

ENV_PREFIX = "XCLOUD_NAIVE_"
NAME = "naive"


def load_nets() -> dict[str, torch.nn.Module]:
    """Every net of the pipeline as an eval-mode PyTorch module, by served model name."""
    nets = {spec.model: load_net(kind, str(fetch_file(FACENET_PYTORCH, spec.member)))
            for kind, spec in MTCNN_SPECS.items()}
    nets[trunk.TRUNK] = trunk.FaceTrunk(trunk.committed_heads()).eval()
    nets[EMBEDDING] = EmbeddingNet(*identity_export.committed()).eval()
    nets[EXPRESSION] = faceapi_export.load_net(faceapi_export.SPECS[EXPRESSION])
    return nets


class NaiveAnalyzer:
    def __init__(self, nets: dict[str, torch.nn.Module]):
        self._nets = nets
        settings = FaceDetectionSettings()
        self._detector = MtcnnDetector(self._infer)
        self._params = MtcnnParams(min_face_size=settings.min_face_size,
                                   score_threshold=settings.score_threshold)

    def _run(self, name: str, rows: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            out = self._nets[name](torch.from_numpy(np.ascontiguousarray(rows)))
        return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]

    async def _infer(self, name: str, rows: np.ndarray) -> list[np.ndarray]:
        return self._run(name, rows)

    def analyze(self, request: gateway_pb2.AnalyzeRequest) -> gateway_pb2.AnalyzeResponse:
        rgb = decode_image(request.image.content)
        found = asyncio.run(self._detector.detect(rgb, self._params))
        rows = face_rows(rgb, found)
        for face in range(rows.faces):  # one face at a time, as a per-face loop would
            for name, block in rows.blocks():
                self._run(name, block[face:face + 1])
        response = gateway_pb2.AnalyzeResponse(image_width=rgb.shape[1], image_height=rgb.shape[0])
        for d in found[:rows.faces]:
            face = face_to_proto(DetectedFace(d.box, float(d.score), d.landmarks))
            response.faces.add().face.CopyFrom(face)
        response.statuses.extend(common_pb2.TaskStatus(task=t, code=common_pb2.STATUS_CODE_OK)
                                 for t in request.tasks)
        return response


class NaiveGateway(gateway_pb2_grpc.GatewayServicer):
    def __init__(self, analyzer: NaiveAnalyzer):
        self._analyzer = analyzer

    def Analyze(self, request, context):
        try:
            return self._analyzer.analyze(request)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))


def serve() -> int:
    host = os.environ.get(f"{ENV_PREFIX}HOST", "127.0.0.1")
    port = int(os.environ.get(f"{ENV_PREFIX}PORT", "0"))
    server = grpc.server(ThreadPoolExecutor(max_workers=1),  # one image at a time
                         options=[("grpc.max_receive_message_length", 32 * 1024 * 1024)])
    gateway_pb2_grpc.add_GatewayServicer_to_server(NaiveGateway(NaiveAnalyzer(load_nets())), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    print(f"READY {NAME} grpc={host}:{bound} metrics=None", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
