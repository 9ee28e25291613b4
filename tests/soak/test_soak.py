"""Soak (``make soak``; not in ``make test``): the whole stack under mixed load for 10 minutes.

The launcher starts every process as ``make run`` does; four clients keep calling Analyze
(detection, attributes, expression, embedding; half of the calls bypass the cache, images
rotate so the cache both hits and misses) and ScoreContent. Each process's resident memory
after a warm-up is compared with the end of the run: within 10 %, or something leaks.
``XCLOUD_SOAK_S`` (default 600) and ``XCLOUD_SOAK_WARMUP_S`` (default 60) set the durations.
"""
from __future__ import annotations

import io
import os
import threading
import time
from collections import Counter

import grpc
import numpy as np
import psutil
import pytest
from PIL import Image

from tests.services.text_quality.conftest import EXAMPLE
from tests.support.launched import launched
from xcloud.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, text_quality_pb2

pytestmark = [pytest.mark.soak, pytest.mark.slow]
DURATION_S = float(os.environ.get("XCLOUD_SOAK_S", "600"))
WARMUP_S = float(os.environ.get("XCLOUD_SOAK_WARMUP_S", "60"))
CLIENTS = 4
TASKS = ("detection", "attributes", "expression", "embedding")


def _variants(jpeg: bytes, count: int = 24) -> list[bytes]:
    """The portrait at ``count`` sizes: distinct images, the same face."""
    image = Image.open(io.BytesIO(jpeg))
    variants = []
    for i in range(count):
        side = 384 + 16 * i
        buffer = io.BytesIO()
        image.resize((side, side)).save(buffer, format="JPEG", quality=90)
        variants.append(buffer.getvalue())
    return variants


def _client(address: str, images: list[bytes], stop: threading.Event, codes: Counter,
            worker: int) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = gateway_pb2_grpc.GatewayStub(channel)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 5 == 0:
                    record = text_quality_pb2.ContentRecord(**{**EXAMPLE, "liked_num": n % 50})
                    reply = stub.ScoreContent(gateway_pb2.ScoreContentRequest(records=[record]),
                                              timeout=30)
                    codes[reply.status.code] += 1
                    continue
                request = gateway_pb2.AnalyzeRequest(
                    image=common_pb2.Image(content=images[(n * CLIENTS + worker) % len(images)]),
                    tasks=list(TASKS), options=gateway_pb2.AnalyzeOptions(no_cache=n % 2 == 0))
                reply = stub.Analyze(request, timeout=30)
                codes.update(status.code for status in reply.statuses)
            except grpc.RpcError as error:
                codes[f"rpc {error.code().name}"] += 1


def _rss(pids: dict[str, int]) -> dict[str, int]:
    return {name: psutil.Process(pid).memory_info().rss for name, pid in pids.items()}


def test_a_soak_of_mixed_load_keeps_every_process_memory_flat(astronaut_jpeg):
    images = _variants(astronaut_jpeg)
    with launched() as stack:
        stop, codes = threading.Event(), Counter()
        clients = [threading.Thread(target=_client, args=(stack.gateway, images, stop, codes, w),
                                    daemon=True) for w in range(CLIENTS)]
        for client in clients:
            client.start()
        time.sleep(WARMUP_S)
        warm = _rss(stack.pids)
        samples = [warm]
        end = time.monotonic() + DURATION_S
        while time.monotonic() < end:
            time.sleep(min(30.0, max(0.0, end - time.monotonic())))
            samples.append(_rss(stack.pids))
        stop.set()
        for client in clients:
            client.join(60)
    final = samples[-1]
    print(f"\nsoak {DURATION_S:.0f} s after {WARMUP_S:.0f} s warm-up, answers: {dict(codes)}")
    for name in warm:
        trend = np.array([s[name] for s in samples]) / 2**20
        print(f"  {name:16s} RSS {trend[0]:7.1f} -> {trend[-1]:7.1f} MiB "
              f"(max {trend.max():.1f}, {100 * (trend[-1] / trend[0] - 1):+.1f} %)")
    grown = {n: final[n] / warm[n] for n in warm if final[n] > warm[n] * 1.10}
    assert not grown, f"RSS grew by more than 10 %: {grown}"
    assert codes[0] > 0 and not any(isinstance(code, str) for code in codes), dict(codes)
