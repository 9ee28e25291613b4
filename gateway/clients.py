"""gRPC clients of the backends: one lazily created grpc.aio channel per backend.

Each channel uses round-robin load balancing, so a ``dns:///`` target of a headless
Kubernetes Service spreads calls over every pod IP rather than pinning one connection.
Calls carry the caller's remaining time (capped at ``backend_timeout_s``) and are retried,
with jittered backoff, only on UNAVAILABLE: that code means the call never reached a model,
so repeating it cannot run inference twice. Each attempt is a CLIENT span whose traceparent
travels in the call's metadata, so the backend's spans join the gateway's trace.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.message import Message
from prometheus_client import Counter, Histogram

from gateway.settings import BackendSettings, GatewaySettings
from services.runtime import tracing
from services.runtime.errors import XCloudError
from services.runtime.metrics import LATENCY_BUCKETS
from services.runtime.tls import client_credentials
from xcloud.v1 import common_pb2

log = logging.getLogger(__name__)
LIST_MODELS = "/xcloud.v1.ModelRepository/ListModels"
SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})

BACKEND_LATENCY = Histogram(
    "xcloud_gateway_backend_seconds",
    "Wall time of one backend call attempt, as the gateway sees it.",
    ["backend", "method"], buckets=LATENCY_BUCKETS,
)
BACKEND_RETRIES = Counter(
    "xcloud_gateway_backend_retries_total", "Backend calls repeated after UNAVAILABLE.",
    ["backend", "method"],
)
Metadata = Sequence[tuple[str, str]]


class BackendError(XCloudError):
    """A backend call failed; carries the backend's own status code and message."""

    def __init__(self, backend: str, code: grpc.StatusCode, message: str):
        super().__init__(f"{backend}: {message}", code)
        self.backend = backend
        self.details = message


@dataclass(frozen=True)
class Deadline:
    """An absolute deadline on the event loop's clock; ``at=None`` means none."""

    at: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        if seconds is None:
            return cls(None)
        return cls(asyncio.get_running_loop().time() + seconds)

    def remaining(self) -> float | None:
        if self.at is None:
            return None
        return self.at - asyncio.get_running_loop().time()


def channel_options(settings: GatewaySettings) -> list[tuple[str, object]]:
    name = settings.backend_tls_server_name
    override = [("grpc.ssl_target_name_override", name)] if name else []
    return [*override,
        ("grpc.service_config", SERVICE_CONFIG),
        # Pings only while calls are in flight: they detect a dead pod behind a live
        # connection without tripping the servers' too-many-pings protection when idle.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
    ]


class BackendClient:
    def __init__(self, name: str, backend: BackendSettings, settings: GatewaySettings,
                 credentials: grpc.ChannelCredentials | None = None):
        self.name = name
        self.address = backend.address
        self._settings = settings
        self._credentials = credentials  # None: plaintext
        self._channel: grpc.aio.Channel | None = None
        self._methods: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}

    @property
    def channel(self) -> grpc.aio.Channel:
        # Created on first use so that it binds to the event loop that serves the calls.
        if self._channel is None:
            options = channel_options(self._settings)
            self._channel = (
                grpc.aio.secure_channel(self.address, self._credentials, options=options)
                if self._credentials is not None
                else grpc.aio.insecure_channel(self.address, options=options))
        return self._channel

    async def call(self, method: str, request: Message, response_type: type[Message],
                   deadline: Deadline, metadata: Metadata = (),
                   retries: int | None = None) -> Message:
        """Call ``method``; return its response or raise BackendError with the final code."""
        retries = self._settings.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                return await self._attempt(method, request, response_type, deadline, metadata)
            except BackendError as exc:
                pause = self._backoff(attempt)
                if exc.code != grpc.StatusCode.UNAVAILABLE or attempt == retries \
                        or not self._fits(deadline, pause):
                    raise
            BACKEND_RETRIES.labels(self.name, _short(method)).inc()
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def list_models(self, deadline: Deadline,
                          metadata: Metadata = ()) -> common_pb2.ListModelsResponse:
        """The backend's ModelRepository listing; not retried, callers treat failure as unknown."""
        request = common_pb2.ListModelsRequest()
        return await self.call(LIST_MODELS, request, common_pb2.ListModelsResponse, deadline,
                               metadata, retries=0)

    async def _attempt(self, method: str, request: Message, response_type: type[Message],
                       deadline: Deadline, metadata: Metadata) -> Message:
        """One attempt as one CLIENT span; its trace context goes along in the metadata."""
        with tracing.client_span(self.name, method) as (span, context):
            try:
                reply = await self._send(method, request, response_type, deadline,
                                         (*metadata, *context))
            except BackendError as exc:
                tracing.end_rpc(span, exc.code, exc.details, server=False)
                raise
            tracing.end_rpc(span, grpc.StatusCode.OK, server=False)
            return reply

    async def _send(self, method: str, request: Message, response_type: type[Message],
                    deadline: Deadline, metadata: Metadata) -> Message:
        timeout = self._timeout(deadline)
        stub = self._stub(method, type(request), response_type)
        start = time.perf_counter()
        try:
            return await stub(request, timeout=timeout, metadata=tuple(metadata))
        except grpc.aio.AioRpcError as exc:
            raise BackendError(self.name, exc.code(), exc.details() or exc.code().name) from None
        finally:
            BACKEND_LATENCY.labels(self.name, _short(method)).observe(time.perf_counter() - start)

    def _stub(self, method: str, request_type: type[Message], response_type: type[Message]):
        if method not in self._methods:
            self._methods[method] = self.channel.unary_unary(
                method,
                request_serializer=request_type.SerializeToString,
                response_deserializer=response_type.FromString,
            )
        return self._methods[method]

    def _timeout(self, deadline: Deadline) -> float:
        """Time the backend gets: the caller's remaining time less a reserve, capped."""
        timeout = self._settings.backend_timeout_s
        remaining = deadline.remaining()
        if remaining is not None:
            timeout = min(timeout, remaining - self._settings.deadline_reserve_s)
        if timeout <= 0:
            raise BackendError(self.name, grpc.StatusCode.DEADLINE_EXCEEDED,
                               "deadline expired before the backend could be called")
        return timeout

    def _backoff(self, attempt: int) -> float:
        # Jitter keeps many gateway replicas from retrying a recovering pod in lockstep.
        return self._settings.retry_backoff_s * (2 ** attempt) * random.uniform(0.5, 1.5)

    def _fits(self, deadline: Deadline, pause: float) -> bool:
        remaining = deadline.remaining()
        return remaining is None or remaining - self._settings.deadline_reserve_s > pause

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._methods.clear()


class Backends:
    """Every configured backend's client, by backend name."""

    def __init__(self, settings: GatewaySettings):
        # read once, at start: a missing or half-configured certificate stops the gateway
        credentials = client_credentials(settings.backend_tls_ca_file,
                                         settings.backend_tls_cert_file,
                                         settings.backend_tls_key_file)
        self.clients = {
            name: BackendClient(name, backend, settings, credentials)
            for name, backend in settings.backends.items()
        }

    def get(self, name: str) -> BackendClient | None:
        return self.clients.get(name)

    def require(self, name: str) -> BackendClient:
        """The client of ``name``; a task or RPC whose backend is not configured fails with
        FAILED_PRECONDITION (the deployment's to fix, not the caller's input)."""
        client = self.clients.get(name)
        if client is None:
            raise BackendError(name, grpc.StatusCode.FAILED_PRECONDITION,
                               f"no backend {name!r} is configured on this gateway")
        return client

    async def list_models(self, deadline: Deadline, metadata: Metadata = ()
                          ) -> list[common_pb2.ListModelsResponse]:
        """Every reachable backend's listing; one that is down is left out, never an error."""
        results = await asyncio.gather(
            *(client.list_models(deadline, metadata) for client in self.clients.values()),
            return_exceptions=True,
        )
        for name, result in zip(self.clients, results):
            if isinstance(result, BackendError):
                log.info("ListModels: backend %s left out: %s", name, result.message)
            elif isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, common_pb2.ListModelsResponse)]

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.clients.values()))


def _short(method: str) -> str:
    return method.rsplit("/", 1)[-1]
