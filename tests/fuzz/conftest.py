"""Fuzzing support: real servers on a background event loop, driven by sync hypothesis tests.

``XCLOUD_FUZZ_EXAMPLES`` is the total across the suite: 200 in `make test`, 10,000 in
`make fuzz`; each test takes its share.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, settings

from tests.support.servers import running

TOTAL_EXAMPLES = int(os.environ.get("XCLOUD_FUZZ_EXAMPLES", "200"))
FUZZ_TESTS = 5  # tests sharing the total
# The codes a hostile input may get; INTERNAL or UNKNOWN would mean a bug (an unhandled error).
CALLER_CODES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
                grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.OUT_OF_RANGE}


def fuzz_settings(share: float = 1.0):
    """Hypothesis settings for one test: its share of the examples, no deadline (CPU-shared
    machines), no database (tests must not depend on earlier runs)."""
    return settings(max_examples=max(10, int(TOTAL_EXAMPLES * share / FUZZ_TESTS)),
                    deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@contextlib.contextmanager
def served(app, app_settings) -> Iterator[str]:
    """``app`` on a real server in a thread of its own; yields its address."""
    loop = asyncio.new_event_loop()
    ready: asyncio.Future = loop.create_future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with running(app, app_settings) as server:
            ready.set_result(server.address)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    address = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(ready), 300),
                                               loop).result()
    try:
        yield address
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def healthy(channel: grpc.Channel) -> bool:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def call_code(call, request, **kwargs) -> grpc.StatusCode:
    """The status a call ends with (OK on success), with its details when it is a bug."""
    try:
        call(request, timeout=60, **kwargs)
    except grpc.RpcError as error:
        assert error.code() in CALLER_CODES, f"{error.code()}: {error.details()}"
        assert error.details(), "an error without a message tells the caller nothing"
        return error.code()
    return grpc.StatusCode.OK
