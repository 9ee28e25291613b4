"""Gateway benchmarks: its overhead over a direct Detect call, and cache-hit latency."""
from __future__ import annotations

import grpc

from benchmarks.detection import detect_call
from benchmarks.harness import (
    Profile,
    Request,
    Row,
    Skipped,
    Variant,
    closed_loop,
    compare,
    interleaved,
)
from benchmarks.inputs import ImageCycle
from benchmarks.testbed import Testbed
from xcloud.client import analyze_request
from xcloud.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

OVERHEAD_CONCURRENCY = (1, 8)
TIMEOUT_S = 300.0
# The gateway's 10 s backend timeout suits production; on a loaded 2-core machine a Detect at
# c=8 can take longer, and the rows would then measure timeouts instead of the gateway.
GATEWAY_SETTINGS = {"backend_timeout_s": TIMEOUT_S}


def analyze_call(channel: grpc.aio.Channel, images: ImageCycle, cached: bool) -> Request:
    """Analyze(tasks=["detection"]) on the next image; ``cached`` False sets no_cache.

    The answer must come from where the variant says (cache or detection), else the figures
    would describe something else: a mismatch stops the benchmark.
    """
    stub = gateway_pb2_grpc.GatewayStub(channel)

    async def call() -> gateway_pb2.AnalyzeResponse:
        request = analyze_request(images(), ["detection"], no_cache=not cached)
        response = await stub.Analyze(request, timeout=TIMEOUT_S)
        status = response.statuses[0]
        if status.code != common_pb2.STATUS_CODE_OK or status.cached != cached:
            raise RuntimeError(f"unexpected detection status from the gateway: {status}")
        return response

    return call


async def overhead(testbed: Testbed, profile: Profile) -> list[Row]:
    """Analyze through the gateway (cache skipped) against Detect on the same service.

    Every request carries its own bytes (a JPEG comment with a number), so that neither the
    cache nor the gateway's single-flight merges concurrent requests: both variants do the
    same detections.
    """
    detection = await testbed.service("face_detection")
    gateway = await testbed.gateway(**GATEWAY_SETTINGS)
    rows = []
    async with (grpc.aio.insecure_channel(gateway.address) as to_gateway,
                grpc.aio.insecure_channel(detection.address) as to_detection):
        for concurrency in OVERHEAD_CONCURRENCY:
            variants = [
                Variant("gateway",
                        analyze_call(to_gateway, ImageCycle(testbed.photos, unique=True),
                                     cached=False),
                        concurrency),
                Variant("direct", detect_call(
                    to_detection, ImageCycle(testbed.photos, unique=True)), concurrency),
            ]
            found = await interleaved(variants, profile)
            rows.append(compare("gateway", f"c={concurrency}", found["gateway"], found["direct"],
                                "p50"))
    return rows


async def cache_hits(testbed: Testbed, profile: Profile) -> list[Row | Skipped]:
    """Analyze answered from the cache against the same calls with no_cache, per store."""
    rows: list[Row | Skipped] = []
    for store in ("lru", "redis"):
        if store == "lru":
            gateway = await testbed.gateway(**GATEWAY_SETTINGS)
        elif (url := testbed.redis_url()) is not None:
            gateway = await testbed.gateway(redis_url=url, **GATEWAY_SETTINGS)
        else:
            rows.append(Skipped("cache", store, "redis-server is not installed"))
            continue
        rows.append(await _hit_against_miss(gateway.address, testbed, profile, store))
    return rows


async def _hit_against_miss(address: str, testbed: Testbed, profile: Profile, store: str) -> Row:
    photos = testbed.photos
    async with grpc.aio.insecure_channel(address) as channel:
        # no_cache skips the lookup but still stores: one pass makes every photo a hit.
        await closed_loop(analyze_call(channel, ImageCycle(photos), cached=False), 1, len(photos))
        variants = [Variant("hit", analyze_call(channel, ImageCycle(photos), cached=True), 1),
                    Variant("no_cache", analyze_call(channel, ImageCycle(photos), cached=False), 1)]
        found = await interleaved(variants, profile)
    return compare("cache", store, found["hit"], found["no_cache"], "p50")
