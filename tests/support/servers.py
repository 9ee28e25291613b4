"""Start real XCloud servers in-process on loopback port 0 and talk to them over gRPC."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.server import RunningServer


@contextlib.asynccontextmanager
async def running(app, settings) -> AsyncIterator[RunningServer]:
    server = RunningServer(app, settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=0.5)


async def health_status(address: str, service: str = "") -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
