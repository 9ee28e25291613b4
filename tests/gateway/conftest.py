"""Fixtures: loopback test backends, the gateway on port 0, a private redis-server."""
from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import pytest

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from gateway.tasks import TaskRegistry
from services.runtime.repository import ModelRepository
from services.runtime.server import RunningServer
from services.runtime.settings import REPO_ROOT
from tests.gateway.helpers import IMAGE, free_port
from tests.gateway.loopback_backends import serve
from tests.support.redis import RedisProcess
from tests.support.servers import running
from xcloud.names import MTCNN as MTCNN_PARTS
from xcloud.v1 import common_pb2, face_detection_pb2, gateway_pb2, gateway_pb2_grpc


@pytest.fixture(scope="module")
async def detection_address():
    """A real face-detection service (MTCNN) on loopback, for one test module."""
    repository = ModelRepository(REPO_ROOT / "models" / "repository")
    if not all(repository.is_installed(name) for name in MTCNN_PARTS):
        pytest.skip("MTCNN models are not built: run `python -m models.build`")
    from services.face_detection.app import FaceDetectionApp
    from services.face_detection.settings import FaceDetectionSettings

    settings = FaceDetectionSettings(port=0, metrics_port=None, max_batch_size=4)
    async with running(FaceDetectionApp(settings), settings) as live:
        yield live.address


@pytest.fixture
def redis_process():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    process = RedisProcess(free_port())
    process.start()
    yield process
    process.kill()


@dataclass
class GatewayHandle:
    app: GatewayApp
    running: RunningServer
    channel: grpc.aio.Channel
    stub: gateway_pb2_grpc.GatewayStub

    async def analyze(self, tasks: Sequence[str] = (), image: bytes = IMAGE,
                      detection: face_detection_pb2.DetectOptions | None = None,
                      no_cache: bool = False, timeout: float = 30.0,
                      metadata: Sequence[tuple[str, str]] = ()) -> gateway_pb2.AnalyzeResponse:
        request = gateway_pb2.AnalyzeRequest(
            image=common_pb2.Image(content=image), tasks=list(tasks),
            options=gateway_pb2.AnalyzeOptions(detection=detection, no_cache=no_cache),
        )
        return await self.stub.Analyze(request, timeout=timeout, metadata=tuple(metadata))


@contextlib.asynccontextmanager
async def started_servers(serve_one):
    """start(servicer) -> address, each server made by ``serve_one`` and stopped on exit."""
    servers: list[grpc.aio.Server] = []

    async def start(servicer) -> str:
        server, address = await serve_one(servicer)
        servers.append(server)
        return address

    try:
        yield start
    finally:
        for server in servers:
            await server.stop(0)


@pytest.fixture
async def start_backend():
    """start_backend(servicer) -> address of a real gRPC server for it on loopback."""
    async with started_servers(serve) as start:
        yield start


@pytest.fixture
async def start_gateway():
    """start_gateway({backend: address}, registry=None, **settings) -> GatewayHandle."""
    handles: list[GatewayHandle] = []

    async def start(backends: dict[str, str], registry: TaskRegistry | None = None,
                    **overrides) -> GatewayHandle:
        values = {"port": 0, "metrics_port": None, "retry_backoff_s": 0.01,
                  "drain_seconds": 0.0, **overrides}
        settings = GatewaySettings(
            backends={name: BackendSettings(address=a) for name, a in backends.items()}, **values
        )
        app = GatewayApp(settings, registry)
        running = RunningServer(app, settings)
        await running.start()
        channel = grpc.aio.insecure_channel(running.address)
        handle = GatewayHandle(app, running, channel, gateway_pb2_grpc.GatewayStub(channel))
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        await handle.channel.close()
        await handle.running.stop(0)
