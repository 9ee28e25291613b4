"""Admission on a real server: calls and request bytes beyond the limits are refused at once
with RESOURCE_EXHAUSTED, health keeps answering, and capacity comes back when calls end."""
from __future__ import annotations

import asyncio

import grpc
import pytest

from services.runtime.settings import ServiceSettings
from tests.support.servers import health_status, running
from xcloud.v1 import text_quality_pb2

SERVICE, METHOD = "xcloud.v1.Hold", "/xcloud.v1.Hold/Hold"


class HoldApp:
    """One RPC that holds every call until ``release`` is set (a slow model, for the test)."""

    name = "hold"
    service_names = (SERVICE,)

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    def register(self, server: grpc.aio.Server) -> None:
        async def hold(request, context):
            self.entered += 1
            await self.release.wait()
            return text_quality_pb2.ScoreResponse()

        handler = grpc.unary_unary_rpc_method_handler(
            hold, request_deserializer=text_quality_pb2.ScoreRequest.FromString,
            response_serializer=text_quality_pb2.ScoreResponse.SerializeToString)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            SERVICE, {"Hold": handler}),))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.release.set()


def records(count: int) -> text_quality_pb2.ScoreRequest:
    return text_quality_pb2.ScoreRequest(
        records=[text_quality_pb2.ContentRecord(duration=1) for _ in range(count)])


async def held_calls(app: HoldApp, call, count: int, request) -> list[asyncio.Future]:
    calls = [asyncio.ensure_future(call(request, timeout=30)) for _ in range(count)]
    while app.entered < count:
        await asyncio.sleep(0.01)
    return calls


@pytest.mark.parametrize("limits, held, request_", [
    ({"max_concurrent_rpcs": 2}, 2, records(1)),
    ({"max_inflight_bytes": 1000}, 1, records(200)),  # 200 records are ~800 bytes
])
async def test_calls_beyond_the_limit_are_refused_and_health_still_answers(limits, held, request_):
    app = HoldApp()
    settings = ServiceSettings(port=0, metrics_port=None, **limits)
    async with running(app, settings) as server, \
            grpc.aio.insecure_channel(server.address) as channel:
        call = channel.unary_unary(METHOD, request_serializer=text_quality_pb2.ScoreRequest
                                   .SerializeToString,
                                   response_deserializer=text_quality_pb2.ScoreResponse.FromString)
        calls = await held_calls(app, call, held, request_)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call(request_, timeout=5)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "server busy" in refused.value.details() and "retry" in refused.value.details()
        assert await health_status(server.address) == "SERVING"
        app.release.set()
        await asyncio.gather(*calls)
        await call(request_, timeout=5)  # capacity is back once the held calls ended
        assert (server.admission.rpcs, server.admission.bytes) == (0, 0)
