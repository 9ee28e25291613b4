"""OpenTelemetry tracing of every XCloud process: one trace per call, across processes.

Why it is built this way:

- Spans always go through the OpenTelemetry API. Until ``otlp_endpoint`` is set, the API's
  no-op tracer answers them (no SDK, no exporter, a few microseconds a span); it still carries
  a caller's W3C trace context on, so log lines name a trace that was started upstream.
- With an endpoint, ``configure`` installs the SDK: spans are batched and exported over
  OTLP/gRPC from a background thread, so the event loop never waits on the collector.
  Sampling follows the standard ``OTEL_TRACES_SAMPLER`` variables (default: every trace).
- The trace context crosses processes as the ``traceparent`` gRPC metadata entry (W3C Trace
  Context): the gateway's backend calls inject it (``client_span``), every server extracts it
  (``server_span``, from the runtime's TracingInterceptor).
- Stage spans (``child_span``, ``record_span``: preprocessing, queue wait, inference,
  postprocessing) are only ever children: code running outside a traced call (the batcher's
  own loop, warm-up) never starts a trace of its own.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

log = logging.getLogger(__name__)
TRACER_NAME = "xcloud"
EXPORT_TIMEOUT_S = 5.0  # one export attempt; bounds how long a dead collector delays a stop
# Server-side codes that mean the server failed (OpenTelemetry's gRPC conventions); the
# others are the caller's (INVALID_ARGUMENT, NOT_FOUND, ...) and leave the span's status unset.
SERVER_FAULTS = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED,
                           grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL,
                           grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS})
Attributes = Mapping[str, str | int | float | bool]

_provider: TracerProvider | None = None  # None: the API's global provider (no-op unless set)
_tracer: trace.Tracer = trace.get_tracer(TRACER_NAME)


def install(provider: TracerProvider | None) -> TracerProvider | None:
    """Send this process's spans to ``provider`` (None: back to the API's global one) and
    return the one it replaces. ``configure`` uses it; tests install an SDK provider with an
    in-memory exporter and put the previous one back."""
    global _provider, _tracer
    previous, _provider = _provider, provider
    _tracer = (provider.get_tracer(TRACER_NAME) if provider is not None
               else trace.get_tracer(TRACER_NAME))
    return previous


def configure(service: str, endpoint: str | None) -> bool:
    """Export spans over OTLP/gRPC to ``endpoint`` (``http://`` plaintext, ``https://`` TLS);
    without one, keep the no-op tracer. True when an exporter was installed."""
    if not endpoint:
        return False
    # Imported here: a process that exports nothing never loads the SDK.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": service, "service.namespace": "xcloud",
                                "service.version": _version()})
    provider = SdkTracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_S)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    install(provider)
    log.info("tracing: %s exports spans over OTLP to %s", service, endpoint)
    return True


def shutdown() -> None:
    """Export what is still buffered and stop the exporter (a stopping process's last step)."""
    stop = getattr(_provider, "shutdown", None)
    if stop is not None:
        stop()


def server_span(method: str, metadata: Sequence[tuple[str, str | bytes]] | None
                ) -> contextlib.AbstractContextManager[Span]:
    """The span of one RPC handled here (``method``: "/package.Service/Method"); a child of the
    caller's span when its metadata carries a traceparent, else the root of a new trace."""
    carrier = {key: value for key, value in metadata or () if isinstance(value, str)}
    name = method.lstrip("/")
    return _tracer.start_as_current_span(
        name, context=propagate.extract(carrier), kind=SpanKind.SERVER,
        attributes=_rpc_attributes(name), record_exception=False,
        set_status_on_exception=False)


@contextlib.contextmanager
def client_span(backend: str, method: str) -> Iterator[tuple[Span, list[tuple[str, str]]]]:
    """The span of one outgoing call, and the metadata entries (traceparent) that make the
    server's span its child."""
    name = method.lstrip("/")
    attributes = {**_rpc_attributes(name), "xcloud.backend": backend}
    with _tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes,
                                       record_exception=False,
                                       set_status_on_exception=False) as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield span, list(carrier.items())


def end_rpc(span: Span, code: grpc.StatusCode, message: str = "", server: bool = True) -> None:
    """Record the call's final status: any failure on a client span; only the server's own
    faults (SERVER_FAULTS) on a server span."""
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK and (not server or code in SERVER_FAULTS):
        span.set_status(Status(StatusCode.ERROR, f"{code.name}: {message}"[:256]))


def span(name: str, attributes: Attributes | None = None
         ) -> contextlib.AbstractContextManager[Span]:
    """An internal span around a block (a gateway task, a cache lookup)."""
    return _tracer.start_as_current_span(name, attributes=attributes)


def child_span(name: str, attributes: Attributes | None = None
               ) -> contextlib.AbstractContextManager[Span | None]:
    """A span around a block only when it runs inside a recorded span (else nothing)."""
    if not trace.get_current_span().is_recording():
        return contextlib.nullcontext()
    return _tracer.start_as_current_span(name, attributes=attributes)


def record_span(name: str, start_ns: int, end_ns: int,
                attributes: Attributes | None = None) -> None:
    """A finished interval (``time.time_ns()`` bounds) as a child of the current span, when
    that is recorded: the batcher measures queue wait and inference where no caller's span is
    current, and each caller records its own share afterwards."""
    if not trace.get_current_span().is_recording():
        return
    _tracer.start_span(name, attributes=attributes, start_time=start_ns).end(end_time=end_ns)


def annotate(attributes: Attributes) -> None:
    """Set attributes on the current span (e.g. the request id the interceptor settled on)."""
    trace.get_current_span().set_attributes(attributes)


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits (what tracing UIs search for), or None."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


class TraceIdFilter(logging.Filter):
    """Gives every record a ``trace`` field, " trace=<id>" inside a traced call and "" outside,
    so a log line can be found from its trace and the other way round."""

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id = current_trace_id()
        record.trace = f" trace={trace_id}" if trace_id else ""
        return True


def _version() -> str:
    try:
        return metadata.version("xcloud")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


def _rpc_attributes(name: str) -> dict[str, str]:
    service, _, method = name.rpartition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
