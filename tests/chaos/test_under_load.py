"""Chaos under load (``make chaos``): dependencies and processes fail while calls are running.

* Redis is killed and restarted while a gateway serves ScoreContent at concurrency 8: not one
  call fails (the cache is bypassed while it is down).
* SIGTERM reaches a face-detection process with calls in flight: every one of them finishes
  OK, calls sent during the drain are refused (UNAVAILABLE: the caller retries elsewhere), and
  the process exits 0.
* Three times the calls a face-detection process admits arrive at once, again and again: the
  excess is shed with RESOURCE_EXHAUSTED, every admitted call succeeds, and its resident memory
  returns to its level at full capacity before the storm (shedding bounds memory to what
  the admitted calls need). The accepted calls' p99 against the unloaded p99 is
  printed, not asserted (tests never assert wall-clock time on this shared machine).
"""
from __future__ import annotations

import asyncio
import io
import shutil
import statistics
import urllib.request

import grpc
import numpy as np
import psutil
import pytest
from PIL import Image

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.text_quality.app import TextQualityApp
from services.text_quality.settings import TextQualitySettings
from tests.gateway.helpers import free_port
from tests.services.text_quality.conftest import EXAMPLE
from tests.support.redis import RedisProcess
from tests.support.servers import running
from tests.support.service_process import ServiceProcess
from xcloud.v1 import (
    common_pb2,
    face_detection_pb2,
    face_detection_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    text_quality_pb2,
)

pytestmark = [pytest.mark.chaos, pytest.mark.slow]
OK = grpc.StatusCode.OK


async def _score_forever(stub, stop: asyncio.Event, worker: int, outcomes: list) -> None:
    """ScoreContent with fresh records (cache misses and puts) until ``stop``."""
    n = 0
    while not stop.is_set():
        record = text_quality_pb2.ContentRecord(**{**EXAMPLE, "liked_num": worker * 100_000 + n})
        n += 1
        try:
            reply = await stub.ScoreContent(
                gateway_pb2.ScoreContentRequest(records=[record]), timeout=10)
            outcomes.append(reply.status.code)
        except grpc.aio.AioRpcError as error:
            outcomes.append(error.code().value[0])


async def test_redis_killed_and_restarted_under_load_fails_no_call(text_quality_model):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = RedisProcess(free_port())
    redis.start()
    service = TextQualitySettings(port=0, metrics_port=None)
    try:
        async with running(TextQualityApp(service), service) as backend:
            settings = GatewaySettings(
                port=0, metrics_port=None, redis_url=redis.url, redis_retry_after_s=0.2,
                backends={"text_quality": BackendSettings(address=backend.address)})
            async with running(GatewayApp(settings), settings) as gateway, \
                    grpc.aio.insecure_channel(gateway.address) as channel:
                stub, stop, outcomes = gateway_pb2_grpc.GatewayStub(channel), asyncio.Event(), []
                load = [asyncio.create_task(_score_forever(stub, stop, w, outcomes))
                        for w in range(8)]
                await _until(lambda: len(outcomes) >= 50)
                redis.kill()
                down_at = len(outcomes)
                await _until(lambda: len(outcomes) >= down_at + 50)
                redis.start()  # same port
                up_at = len(outcomes)
                await _until(lambda: len(outcomes) >= up_at + 50)
                stop.set()
                await asyncio.gather(*load)
    finally:
        redis.kill()
    assert set(outcomes) == {OK.value[0]}, f"{len(outcomes)} calls: {sorted(set(outcomes))}"


async def _until(condition, limit_s: float = 120.0) -> None:
    """Poll ``condition`` (bounded only against a hang; nothing is timed)."""
    for _ in range(int(limit_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


@pytest.fixture(scope="module")
def large_portrait(astronaut_jpeg) -> bytes:
    """The astronaut at 2,048 px: long enough to detect that SIGTERM lands mid-call."""
    image = Image.open(io.BytesIO(astronaut_jpeg)).resize((2048, 2048))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _detect_request(jpeg: bytes) -> face_detection_pb2.DetectRequest:
    return face_detection_pb2.DetectRequest(image=common_pb2.Image(content=jpeg))


async def _detect(stub, jpeg: bytes) -> tuple[grpc.StatusCode, float]:
    started = asyncio.get_running_loop().time()
    try:
        await stub.Detect(_detect_request(jpeg), timeout=120)
        code = OK
    except grpc.aio.AioRpcError as error:
        code = error.code()
    return code, asyncio.get_running_loop().time() - started


def _inflight(metrics_port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    for line in text.decode().splitlines():
        if line.startswith("xcloud_grpc_inflight_requests{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_sigterm_under_load_finishes_in_flight_calls_and_refuses_new_ones(
        detection_models, large_portrait):
    service = ServiceProcess("face_detection", drain_seconds=60)
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = face_detection_pb2_grpc.FaceDetectionStub(channel)
            assert (await _detect(stub, large_portrait))[0] == OK  # warm
            in_flight = [asyncio.create_task(_detect(stub, large_portrait)) for _ in range(4)]
            await _until(lambda: _inflight(service.metrics_port) >= 4)
            service.terminate()
            await asyncio.sleep(0.5)  # let the signal land: the server now drains
            late_code, _ = await _detect(stub, large_portrait)
            finished = await asyncio.gather(*in_flight)
        assert [code for code, _ in finished] == [OK] * 4
        assert late_code == grpc.StatusCode.UNAVAILABLE
        assert await asyncio.to_thread(service.wait) == 0
    finally:
        service.kill()


async def test_overload_at_three_times_capacity_is_shed_and_memory_returns(
        detection_models, astronaut_jpeg):
    capacity = 4
    service = ServiceProcess("face_detection", max_concurrent_rpcs=capacity)
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = face_detection_pb2_grpc.FaceDetectionStub(channel)
            unloaded = [await _detect(stub, astronaut_jpeg) for _ in range(10)]
            for _ in range(3):  # the footprint of a full house: batches of `capacity` images
                await asyncio.gather(*(_detect(stub, astronaut_jpeg) for _ in range(capacity)))
            baseline = psutil.Process(service.pid).memory_info().rss
            storm = []
            for _ in range(10):  # waves of 3x capacity
                storm += await asyncio.gather(
                    *(_detect(stub, astronaut_jpeg) for _ in range(3 * capacity)))
            after = [await _detect(stub, astronaut_jpeg) for _ in range(10)]
            rss_after = psutil.Process(service.pid).memory_info().rss
    finally:
        service.kill()
    codes = {code for code, _ in storm}
    assert codes == {OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
    assert all(code == OK for code, _ in unloaded + after)
    # memory: back to its level before the storm, within 10 % (allocator slack)
    assert rss_after <= baseline * 1.10, (baseline, rss_after)
    accepted = [t for code, t in storm if code == OK]
    print(f"\noverload: {len(accepted)}/{len(storm)} admitted, p99 accepted "
          f"{_p99(accepted) * 1e3:.0f} ms vs unloaded {_p99([t for _, t in unloaded]) * 1e3:.0f} "
          f"ms (ratio {_p99(accepted) / _p99([t for _, t in unloaded]):.2f}); RSS "
          f"{baseline / 2**20:.0f} -> {rss_after / 2**20:.0f} MiB")


def _p99(values: list[float]) -> float:
    return float(np.percentile(values, 99)) if len(values) > 1 else statistics.fmean(values)
