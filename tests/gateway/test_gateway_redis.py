"""The Redis result cache against a real, private redis-server, including its death."""
from __future__ import annotations

import logging

import redis.asyncio

from tests.gateway.helpers import metric
from tests.gateway.loopback_backends import CountingDetectionBackend
from xcloud.v1 import common_pb2, gateway_cache_pb2, gateway_pb2

OK = common_pb2.STATUS_CODE_OK
WARNING = "result cache unavailable"


async def test_redis_holds_protobuf_values_with_a_ttl(start_backend, start_gateway, redis_process):
    backend = CountingDetectionBackend(faces=2)
    gateway = await start_gateway({"face_detection": await start_backend(backend)},
                                  redis_url=redis_process.url, cache_ttl_s=600)
    first = await gateway.analyze(["detection"])
    second = await gateway.analyze(["detection"])
    assert backend.calls == 1 and second.statuses[0].cached
    assert list(second.faces) == list(first.faces)
    client = redis.asyncio.Redis.from_url(redis_process.url)
    try:
        keys = [k async for k in client.scan_iter(match="xcloud:gateway:v2:detection:*")]
        assert len(keys) == 1
        entry = gateway_cache_pb2.CacheEntry.FromString(await client.get(keys[0]))
        stored = gateway_pb2.AnalyzeResponse.FromString(entry.fragment)
        assert len(stored.faces) == 2 and entry.status.model.name == "loopback_detector"
        assert not stored.statuses  # the status travels beside the answer, not inside it
        assert 0 < await client.ttl(keys[0]) <= 600
    finally:
        await client.aclose()


async def test_dead_redis_is_bypassed_and_logged_once_per_outage(
        start_backend, start_gateway, redis_process, caplog):
    backend = CountingDetectionBackend()
    # Retry Redis on every request, so that "logged once" is not just the back-off at work.
    gateway = await start_gateway({"face_detection": await start_backend(backend)},
                                  redis_url=redis_process.url, redis_retry_after_s=0.0)
    assert (await gateway.analyze(image=b"warm")).statuses[0].code == OK
    bypassed = metric("xcloud_gateway_cache_requests_total", task="detection", result="bypass")
    errors = metric("xcloud_gateway_cache_errors_total")
    caplog.set_level(logging.INFO, logger="gateway.cache")

    redis_process.kill()
    for n in range(4):
        response = await gateway.analyze(image=b"during outage %d" % n)
        assert response.statuses[0].code == OK and len(response.faces) == 2
    assert metric("xcloud_gateway_cache_requests_total", task="detection",
                  result="bypass") >= bypassed + 4
    assert metric("xcloud_gateway_cache_errors_total") > errors
    assert _warnings(caplog) == 1

    redis_process.start()  # same port: Redis is back
    await gateway.analyze(image=b"after recovery")
    assert any("recovered" in r.getMessage() for r in caplog.records)
    redis_process.kill()
    await gateway.analyze(image=b"second outage")
    assert _warnings(caplog) == 2


def _warnings(caplog) -> int:
    return sum(1 for r in caplog.records
               if r.levelno == logging.WARNING and WARNING in r.getMessage())


async def test_after_a_failure_redis_is_left_alone_for_a_while(
        start_backend, start_gateway, redis_process):
    address = await start_backend(CountingDetectionBackend())
    gateway = await start_gateway({"face_detection": address},
                                  redis_url=redis_process.url, redis_retry_after_s=3600)
    redis_process.kill()
    errors = metric("xcloud_gateway_cache_errors_total")
    for n in range(3):
        assert (await gateway.analyze(image=b"breaker %d" % n)).statuses[0].code == OK
    assert metric("xcloud_gateway_cache_errors_total") == errors + 1
