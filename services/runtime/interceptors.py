"""Server interceptors: the RPC's trace span (TracingInterceptor, outermost), then request id,
logging, metrics, and the error-to-status mapping (ServingInterceptor)."""
from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid

import grpc

from services.runtime import metrics, tracing
from services.runtime.errors import Overloaded, XCloudError
from services.runtime.tls import check_peer

log = logging.getLogger(__name__)
REQUEST_ID_KEY = "x-request-id"
# The id of the call being handled, so that handlers (the gateway's reply, log lines) use the
# same id the interceptor logged and echoed, even when the caller sent none.
_CURRENT_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# The caller's deadline of the call being handled, for code far from the servicer that waits
# on something (a database pool) and must give up before the caller does.
_CURRENT_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "deadline", default=None)


def request_id_of(context: grpc.aio.ServicerContext) -> str:
    current = _CURRENT_ID.get()
    if current is not None:
        return current
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY:
            return str(value)[:64]
    return uuid.uuid4().hex[:16]


def current_deadline() -> float | None:
    """The deadline (event-loop clock) of the call being handled, or None (none set / no call)."""
    return _CURRENT_DEADLINE.get()


def deadline_of(context: grpc.aio.ServicerContext) -> float | None:
    """The caller's deadline on this event loop's clock, if the caller set one."""
    remaining = context.time_remaining()
    return None if remaining is None else asyncio.get_running_loop().time() + remaining


class Admission:
    """Bounds what one server holds at once: calls being handled and their request bytes.

    Checked before the handler runs, so overload is refused at once with RESOURCE_EXHAUSTED
    (clients back off) instead of queueing without bound until memory or latency give out.
    One call is always admitted when nothing is in flight, so a legal message bigger than the
    byte budget can still be served alone. Health and reflection (grpc.*) are never counted:
    an overloaded server must still answer its probes.
    """

    def __init__(self, max_rpcs: int, max_bytes: int):
        self.max_rpcs, self.max_bytes = max_rpcs, max_bytes
        self.rpcs = self.bytes = 0

    def admit(self, size: int) -> None:
        """Count the call in, or raise Overloaded naming the limit it hit."""
        if self.rpcs and self.rpcs >= self.max_rpcs:
            raise Overloaded(f"server busy: {self.rpcs} calls in flight (limit "
                             f"{self.max_rpcs}); retry with backoff")
        if self.rpcs and self.bytes + size > self.max_bytes:
            raise Overloaded(f"server busy: {self.bytes} request bytes in flight, this call's "
                             f"{size} would pass the limit of {self.max_bytes}; retry with backoff")
        self.rpcs += 1
        self.bytes += size

    def release(self, size: int) -> None:
        self.rpcs -= 1
        self.bytes -= size


def _size_of(request) -> int:
    return request.ByteSize() if hasattr(request, "ByteSize") else len(request)


def _rewrapped(handler: grpc.RpcMethodHandler, behaviour) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class TracingInterceptor(grpc.aio.ServerInterceptor):
    """Runs every unary RPC (grpc.* infrastructure RPCs aside) inside one SERVER span that
    continues the caller's trace (its traceparent metadata, services/runtime/tracing.py).

    First in the server's list, so it wraps ServingInterceptor: that one's log lines, request
    id and error mapping happen inside the span, and the span ends with the final status."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or method.startswith("/grpc."):
            return handler
        return _rewrapped(handler, self._wrap(handler.unary_unary, method))

    @staticmethod
    def _wrap(behaviour, method: str):
        async def handle(request, context: grpc.aio.ServicerContext):
            with tracing.server_span(method, context.invocation_metadata()) as span:
                code = grpc.StatusCode.OK
                try:
                    return await behaviour(request, context)
                except grpc.aio.AbortError:
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except asyncio.CancelledError:
                    code = grpc.StatusCode.CANCELLED
                    raise
                finally:
                    tracing.end_rpc(span, code, context.details() or "")

        return handle


class ServingInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every unary RPC of the XCloud services (grpc.* infrastructure RPCs pass through)."""

    def __init__(self, service: str, admission: Admission | None = None,
                 allowed_peers: frozenset[str] = frozenset()):
        self._service = service
        self._admission = admission or Admission(1 << 30, 1 << 62)
        self._allowed_peers = allowed_peers

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or method.startswith("/grpc."):
            return handler
        return _rewrapped(handler, self._wrap(handler.unary_unary, method.rsplit("/", 1)[-1]))

    def _wrap(self, behaviour, method: str):
        service, admission, allowed = self._service, self._admission, self._allowed_peers

        async def handle(request, context: grpc.aio.ServicerContext):
            request_id = request_id_of(context)
            tracing.annotate({"xcloud.request_id": request_id})
            token = _CURRENT_ID.set(request_id)
            deadline_token = _CURRENT_DEADLINE.set(deadline_of(context))
            await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
            code, start = grpc.StatusCode.OK, time.perf_counter()
            metrics.RPC_INFLIGHT.labels(service).inc()
            size, admitted = _size_of(request), False
            try:
                check_peer(context, allowed)
                admission.admit(size)
                admitted = True
                return await behaviour(request, context)
            except XCloudError as exc:
                code = exc.code
                log.info("%s %s -> %s: %s", request_id, method, code.name, exc.message)
                await context.abort(code, exc.message)
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("%s %s failed", request_id, method)
                await context.abort(code, f"internal error (request id {request_id})")
            finally:
                if admitted:
                    admission.release(size)
                _CURRENT_ID.reset(token)
                _CURRENT_DEADLINE.reset(deadline_token)
                metrics.RPC_INFLIGHT.labels(service).dec()
                metrics.RPC_LATENCY.labels(service, method).observe(time.perf_counter() - start)
                metrics.RPC_REQUESTS.labels(service, method, code.name).inc()

        return handle
