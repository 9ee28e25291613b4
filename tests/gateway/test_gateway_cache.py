"""The result cache's own bounds: the in-process LRU in bytes, unreadable values as misses."""
from __future__ import annotations

import grpc
import redis.asyncio

from gateway.app import GatewayApp
from gateway.cache import MemoryStore
from gateway.settings import BackendSettings, GatewaySettings
from tests.gateway.test_gateway_content import (
    content_backend,  # noqa: F401  (fixture)
    request,
)
from tests.services.text_quality.conftest import EXAMPLE
from tests.support.servers import running
from xcloud.v1 import gateway_pb2_grpc, text_quality_pb2

OK = 0


async def test_memory_store_is_bounded_in_bytes_least_recently_used_first():
    store = MemoryStore(max_entries=100, max_bytes=10)
    await store.set("a", b"1234", 60)
    await store.set("b", b"5678", 60)
    assert await store.get("a") == b"1234"  # a is now the most recent
    await store.set("c", b"90ab", 60)       # 12 bytes: b, the least recent, goes
    assert await store.get("b") is None and await store.get("a") == b"1234"
    assert store.bytes == 8
    await store.set("huge", b"x" * 11, 60)  # larger than the whole budget: not kept
    assert await store.get("huge") is None and store.bytes == 8
    await store.set("a", b"12", 60)         # replacing counts the new size only
    assert store.bytes == 6


async def test_a_corrupt_cached_value_is_a_miss_not_a_failed_call(content_backend,  # noqa: F811
                                                                  redis_process):
    settings = GatewaySettings(port=0, metrics_port=None, redis_url=redis_process.url,
                               backends={"text_quality": BackendSettings(
                                   address=content_backend.address)})
    records = request(text_quality_pb2.ContentRecord(**EXAMPLE))
    client = redis.asyncio.Redis.from_url(redis_process.url)
    async with running(GatewayApp(settings), settings) as gateway, \
            grpc.aio.insecure_channel(gateway.address) as channel:
        stub = gateway_pb2_grpc.GatewayStub(channel)
        first = await stub.ScoreContent(records, timeout=30)
        keys = [k async for k in client.scan_iter(match="xcloud:gateway:v2:content_quality:*")]
        assert len(keys) == 1
        await client.set(keys[0], b"\x0a\xff")  # a truncated field: not a ScoreContentResponse
        again = await stub.ScoreContent(records, timeout=30)
        healed = await stub.ScoreContent(records, timeout=30)
    await client.aclose()
    assert again.status.code == OK and not again.status.cached
    assert list(again.scores) == list(first.scores)
    assert healed.status.cached  # the recomputed answer replaced the corrupt one
