"""Backends that are down, slow or flaky: partial answers, deadlines, bounded retries."""
from __future__ import annotations

import grpc

from tests.gateway.helpers import free_port, metric
from tests.gateway.loopback_backends import (
    CountingDetectionBackend,
    FailingDetectionBackend,
    SlowDetectionBackend,
)
from xcloud.v1 import common_pb2, gateway_pb2

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


async def test_backend_down_gives_an_ok_call_with_an_unavailable_task(start_gateway):
    gateway = await start_gateway({"face_detection": f"127.0.0.1:{free_port()}"})
    before = metric("xcloud_gateway_tasks_total", task="detection", code="UNAVAILABLE")
    response = await gateway.analyze(["detection"])
    status = response.statuses[0]
    assert status.code == common_pb2.STATUS_CODE_UNAVAILABLE
    assert status.message.startswith("face_detection:") and not status.cached
    assert len(response.faces) == 0
    assert metric("xcloud_gateway_tasks_total", task="detection", code="UNAVAILABLE") == before + 1


async def test_slow_backend_gives_deadline_exceeded_within_the_callers_deadline(
        start_backend, start_gateway):
    backend = SlowDetectionBackend()
    gateway = await start_gateway({"face_detection": await start_backend(backend)},
                                  deadline_reserve_s=0.5)
    response = await gateway.analyze(["detection"], timeout=2.0)
    assert response.statuses[0].code == common_pb2.STATUS_CODE_DEADLINE_EXCEEDED
    assert backend.calls == 1  # DEADLINE_EXCEEDED is never retried


async def test_backend_timeout_caps_calls_without_a_caller_deadline(start_backend, start_gateway):
    gateway = await start_gateway({"face_detection": await start_backend(SlowDetectionBackend())},
                                  backend_timeout_s=0.3)
    response = await gateway.stub.Analyze(gateway_request())  # no client deadline at all
    assert response.statuses[0].code == common_pb2.STATUS_CODE_DEADLINE_EXCEEDED


async def test_unavailable_is_retried_until_it_succeeds(start_backend, start_gateway):
    backend = FailingDetectionBackend([UNAVAILABLE, UNAVAILABLE])
    gateway = await start_gateway({"face_detection": await start_backend(backend)}, retries=2)
    retried = metric("xcloud_gateway_backend_retries_total", backend="face_detection",
                     method="Detect")
    response = await gateway.analyze(["detection"])
    assert response.statuses[0].code == common_pb2.STATUS_CODE_OK and len(response.faces) == 2
    assert backend.calls == 3
    assert metric("xcloud_gateway_backend_retries_total", backend="face_detection",
                  method="Detect") == retried + 2


async def test_retries_are_bounded(start_backend, start_gateway):
    backend = FailingDetectionBackend([UNAVAILABLE] * 5)
    gateway = await start_gateway({"face_detection": await start_backend(backend)}, retries=1)
    response = await gateway.analyze(["detection"])
    assert response.statuses[0].code == common_pb2.STATUS_CODE_UNAVAILABLE
    assert backend.calls == 2


async def test_other_failures_are_not_retried_nor_cached(start_backend, start_gateway):
    backend = FailingDetectionBackend([grpc.StatusCode.INTERNAL])
    gateway = await start_gateway({"face_detection": await start_backend(backend)}, retries=2)
    failed = await gateway.analyze(["detection"])
    assert failed.statuses[0].code == common_pb2.STATUS_CODE_INTERNAL and backend.calls == 1
    recovered = await gateway.analyze(["detection"])
    assert recovered.statuses[0].code == common_pb2.STATUS_CODE_OK
    assert not recovered.statuses[0].cached and backend.calls == 2


async def test_backend_latency_is_measured(start_backend, start_gateway):
    address = await start_backend(CountingDetectionBackend())
    gateway = await start_gateway({"face_detection": address})
    labels = {"backend": "face_detection", "method": "Detect"}
    before = metric("xcloud_gateway_backend_seconds_count", **labels)
    await gateway.analyze(["detection"], image=b"latency")
    assert metric("xcloud_gateway_backend_seconds_count", **labels) == before + 1


def gateway_request() -> gateway_pb2.AnalyzeRequest:
    return gateway_pb2.AnalyzeRequest(image=common_pb2.Image(content=b"x"), tasks=["detection"])
