"""OpenTelemetry tracing across real servers: one trace per call, from the gateway's RPC through
its tasks, cache lookups and backend calls into the backend's RPC, queue wait and inference.

Spans are kept by the SDK's in-memory exporter (installed for the test, the previous provider
put back after). The first test runs the gateway and the face-detection service in this
process, talking over real gRPC on loopback; the second runs the content-quality service as a
real process that exports over OTLP/gRPC to a receiver of the OTLP trace service here.
"""
from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.runtime import tracing
from services.runtime.interceptors import REQUEST_ID_KEY
from tests.services.text_quality.conftest import EXAMPLE
from tests.support.service_process import ServiceProcess
from xcloud import names
from xcloud.v1 import gateway_pb2, text_quality_pb2

ANALYZE, DETECT = "xcloud.v1.Gateway/Analyze", "xcloud.v1.FaceDetection/Detect"
SCORE_CONTENT, SCORE = "xcloud.v1.Gateway/ScoreContent", "xcloud.v1.TextQuality/Score"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process ends while the test runs."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = tracing.install(provider)
    yield exporter
    tracing.install(previous)
    provider.shutdown()


async def ended(exporter: InMemorySpanExporter, name: str, count: int = 1
                ) -> list[ReadableSpan]:
    """The finished spans, once ``count`` named ``name`` have ended (a server's span ends just
    after its answer is sent, so the caller may see the answer first)."""
    for _ in range(200):
        finished = list(exporter.get_finished_spans())
        if sum(s.name == name for s in finished) >= count:
            return finished
        await asyncio.sleep(0.01)
    raise AssertionError(f"no span {name!r} among {[s.name for s in finished]}")


def chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    """The names from ``span`` up to its trace's root, through every parent."""
    span_names = [span.name]
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        span_names.append(span.name)
    return span_names


def descendants(root: ReadableSpan, spans: list[ReadableSpan]) -> list[ReadableSpan]:
    found, frontier = [], {root.context.span_id}
    while frontier:
        children = [s for s in spans if s.parent is not None and s.parent.span_id in frontier]
        found += children
        frontier = {s.context.span_id for s in children}
    return found


async def test_one_analyze_is_one_trace_from_the_gateway_into_detection(
        spans, detection_address, start_gateway, astronaut_jpeg):
    gateway = await start_gateway({"face_detection": detection_address})
    answer = await gateway.analyze(["detection"], image=astronaut_jpeg)
    finished = await ended(spans, ANALYZE)
    (root,) = [s for s in finished if s.name == ANALYZE]
    trace = [s for s in finished if s.context.trace_id == root.context.trace_id]
    by_id = {s.context.span_id: s for s in trace}
    assert root.parent is None and root.kind is SpanKind.SERVER
    assert root.attributes["xcloud.request_id"] == answer.request_id
    assert root.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]

    (server,) = [s for s in trace if s.name == DETECT and s.kind is SpanKind.SERVER]
    assert chain(server, by_id) == [DETECT, DETECT, "task detection", ANALYZE]
    assert server.parent.is_remote  # reached through the traceparent metadata, not in-process
    assert by_id[server.parent.span_id].kind is SpanKind.CLIENT
    assert server.attributes["xcloud.request_id"] == answer.request_id
    inside = descendants(server, trace)
    assert {"preprocess", "queue wait", "inference", "postprocess"} <= {s.name for s in inside}
    runs = [s for s in inside if s.name == "inference"]
    assert {s.attributes["xcloud.model"] for s in runs} >= {names.MTCNN_PNET, names.MTCNN_ONET}
    assert all(s.attributes["xcloud.batch_rows"] >= s.attributes["xcloud.rows"] for s in runs)
    (lookup,) = [s for s in trace if s.name == "cache lookup"]
    assert chain(lookup, by_id)[1:] == ["task detection", ANALYZE]
    assert lookup.attributes["xcloud.cache.hit"] is False

    spans.clear()
    await gateway.analyze(["detection"], image=astronaut_jpeg)
    again = await ended(spans, ANALYZE)
    assert [s.attributes["xcloud.cache.hit"] for s in again if s.name == "cache lookup"] == [True]
    assert DETECT not in {s.name for s in again}  # a hit calls no backend


class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """The OTLP/gRPC trace service a collector serves, keeping what it is sent."""

    def __init__(self):
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request, context):
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[tuple[str, object]]:
        """(service.name of the exporting process, span) for every span received."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value
                              for a in resource_spans.resource.attributes}
                found += [(attributes["service.name"], span)
                          for scope in resource_spans.scope_spans for span in scope.spans]
        return found


@contextlib.contextmanager
def otlp_receiver() -> Iterator[tuple[OtlpReceiver, str]]:
    """A receiver on a free loopback port and its endpoint. A thread-pool server, so it keeps
    receiving while the test blocks waiting for the backend process to stop."""
    receiver = OtlpReceiver()
    server = grpc.server(ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield receiver, f"http://127.0.0.1:{port}"
    finally:
        server.stop(0)


async def test_a_backend_process_exports_its_spans_into_the_gateways_trace(
        spans, text_quality_model, start_gateway):
    record = text_quality_pb2.ContentRecord(**EXAMPLE)
    broken = text_quality_pb2.ContentRecord(**{k: v for k, v in EXAMPLE.items() if k != "gender"})
    with otlp_receiver() as (receiver, endpoint):
        backend = ServiceProcess("text_quality", otlp_endpoint=endpoint)
        try:
            gateway = await start_gateway({"text_quality": backend.address})
            good = await gateway.stub.ScoreContent(
                gateway_pb2.ScoreContentRequest(records=[record]), timeout=30)
            with pytest.raises(grpc.aio.AioRpcError):
                await gateway.stub.ScoreContent(
                    gateway_pb2.ScoreContentRequest(records=[record, broken]), timeout=30,
                    metadata=((REQUEST_ID_KEY, "trace-test-bad"),))
            finished = await ended(spans, SCORE_CONTENT, count=2)
        finally:
            backend.terminate()  # the process exports what it still holds as it stops
            log = backend.process.stdout.read()
            backend.wait()
        exported = receiver.spans()

    roots = {s.attributes["xcloud.request_id"]: s for s in finished if s.name == SCORE_CONTENT}
    root, bad_root = roots[good.request_id], roots["trace-test-bad"]
    (client,) = [s for s in finished if s.name == SCORE and s.kind is SpanKind.CLIENT
                 and s.context.trace_id == root.context.trace_id]
    by_id = {s.context.span_id: s for s in finished}
    assert chain(client, by_id) == [SCORE, "task content_quality", SCORE_CONTENT]

    backend_spans = [s for service, s in exported if service == "text_quality"]
    traced = [s for s in backend_spans if int.from_bytes(s.trace_id, "big")
              == root.context.trace_id]
    (server,) = [s for s in traced if s.name == SCORE]
    assert int.from_bytes(server.parent_span_id, "big") == client.context.span_id
    stages = [s for s in traced if s.parent_span_id == server.span_id]
    assert {s.name for s in stages} == {"preprocess", "queue wait", "inference"}
    assert {s.name for s in traced} == {SCORE, "xcloud.v1.ModelRepository/ListModels",
                                        *(s.name for s in stages)}  # the gateway's version lookup

    # The backend's log line for the refused record names the gateway's request id and trace.
    bad_trace = f"{bad_root.context.trace_id:032x}"
    assert re.search(rf"trace={bad_trace}: trace-test-bad Score -> INVALID_ARGUMENT", log), log


def test_without_an_endpoint_no_sdk_is_installed_yet_a_callers_trace_is_carried_on():
    assert tracing.configure("gateway", None) is False
    assert tracing.configure("gateway", "") is False
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    metadata = (("traceparent", f"00-{trace_id}-b7ad6b7169203331-01"),)
    with tracing.server_span("/xcloud.v1.Gateway/Analyze", metadata) as span:
        assert not span.is_recording()  # the API's no-op span: nothing is kept or sent
        assert tracing.current_trace_id() == trace_id
        with tracing.client_span("face_detection", "/xcloud.v1.FaceDetection/Detect") as (_, md):
            assert dict(md)["traceparent"].split("-")[1] == trace_id
    assert tracing.current_trace_id() is None
