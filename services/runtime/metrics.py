"""Prometheus metrics of the serving runtime.

Names follow Prometheus conventions (``*_seconds``, ``*_total``). Model metrics carry only
``model`` and ``version`` labels so cardinality stays bounded; RPC metrics carry the service
and method. Dashboards and alert rules in deploy/ use exactly these names.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from services.runtime import tracing

# Inference on CPU ranges from a fraction of a millisecond to seconds.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
STAGES = ("queue", "preprocess", "inference", "postprocess")

RPC_REQUESTS = Counter(
    "xcloud_grpc_requests_total", "gRPC calls handled, by final status code.",
    ["service", "method", "code"],
)
RPC_LATENCY = Histogram(
    "xcloud_grpc_request_seconds", "Wall time of a gRPC call in the server.",
    ["service", "method"], buckets=LATENCY_BUCKETS,
)
RPC_INFLIGHT = Gauge(
    "xcloud_grpc_inflight_requests", "gRPC calls being handled now.", ["service"]
)
STAGE_LATENCY = {
    stage: Histogram(
        f"xcloud_{stage}_seconds", f"Time a request spends in the {stage} stage.",
        ["model", "version"], buckets=LATENCY_BUCKETS,
    )
    for stage in STAGES
}
BATCH_SIZE = Histogram(
    "xcloud_batch_size", "Rows per inference run formed by the dynamic batcher.",
    ["model", "version"], buckets=BATCH_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "xcloud_queue_depth", "Requests waiting in the batcher queue.", ["model", "version"]
)
MODEL_LOADED = Gauge(
    "xcloud_model_loaded", "1 when the model is loaded and warmed up.", ["model", "version"]
)


@contextlib.contextmanager
def timed_stage(stage: str, model: str, version: str) -> Iterator[None]:
    """Observe the wall time of the enclosed block into the stage histogram; inside a traced
    call, the block is a span of that trace too (named after the stage)."""
    start = time.perf_counter()
    attributes = {"xcloud.model": model, "xcloud.model_version": version}
    try:
        with tracing.child_span(stage, attributes):
            yield
    finally:
        STAGE_LATENCY[stage].labels(model, version).observe(time.perf_counter() - start)


def start_metrics_server(port: int | None, host: str = "127.0.0.1") -> int | None:
    """Serve /metrics on ``port`` (0 = any free port); returns the bound port."""
    if port is None:
        return None
    server, _thread = start_http_server(port, addr=host)
    return server.server_port
