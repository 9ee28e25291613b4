"""The serving runtime's server on loopback: readiness follows the app's start."""
from __future__ import annotations

import asyncio

import grpc

from services.runtime.server import RunningServer
from services.runtime.settings import ServiceSettings
from tests.support.servers import health_status


class SlowStartApp:
    """An app whose start (model loading, in a real service) waits until released."""

    name = "slow_start"
    service_names = ("xcloud.v1.SlowStart",)

    def __init__(self) -> None:
        self.release = asyncio.Event()

    def register(self, server) -> None:
        pass

    async def start(self) -> None:
        await self.release.wait()

    async def stop(self) -> None:
        pass


async def first_answer(server: RunningServer) -> str:
    """The health status once the server answers at all (it binds before it serves)."""
    for _ in range(500):
        if server.port:
            try:
                return await health_status(server.address)
            except grpc.aio.AioRpcError:
                pass
        await asyncio.sleep(0.01)
    raise AssertionError("the server never answered")


async def test_health_says_not_serving_until_the_app_has_started():
    app = SlowStartApp()
    server = RunningServer(app, ServiceSettings(port=0, metrics_port=None))
    starting = asyncio.ensure_future(server.start())
    try:
        assert await first_answer(server) == "NOT_SERVING"  # serving gRPC, the app still loading
        assert await health_status(server.address, "xcloud.v1.SlowStart") == "NOT_SERVING"
        app.release.set()
        await starting
        assert await health_status(server.address) == "SERVING"
    finally:
        app.release.set()
        await starting
        await server.stop(grace=0.1)
