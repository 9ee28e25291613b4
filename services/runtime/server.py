"""grpc.aio server shared by every service: health, reflection, interceptors, graceful drain,
and for model services the Open Inference Protocol (services/runtime/oip.py).

Lifecycle: bind → health NOT_SERVING → the app loads and warms up its models → SERVING.
On SIGTERM/SIGINT: health flips to NOT_SERVING first (readiness probes and client-side
balancers stop sending), then the server stops accepting calls and in-flight calls get
``drain_seconds`` to finish.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.runtime import oip, tracing
from services.runtime.interceptors import Admission, ServingInterceptor, TracingInterceptor
from services.runtime.metrics import start_metrics_server
from services.runtime.settings import ServerSettings
from services.runtime.tls import server_credentials

log = logging.getLogger(__name__)


class App(Protocol):
    """What a service provides to the runtime."""

    name: str                 # short name used in logs and metrics, e.g. "face_detection"
    service_names: Sequence[str]  # full gRPC service names, e.g. "xcloud.v1.FaceDetection"

    def register(self, server: grpc.aio.Server) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def grpc_options(settings: ServerSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]


class RunningServer:
    def __init__(self, app: App, settings: ServerSettings):
        self.app = app
        self.settings = settings
        self.admission = Admission(settings.max_concurrent_rpcs, settings.max_inflight_bytes)
        self.server = grpc.aio.server(
            interceptors=[TracingInterceptor(),
                          ServingInterceptor(app.name, self.admission,
                                             frozenset(settings.tls_client_names))],
            options=grpc_options(settings),
        )
        self.health = health.aio.HealthServicer()
        self.port = 0
        self.metrics_port: int | None = None
        self.readiness = oip.Readiness()  # what health says for "", for ServerReady

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    async def start(self) -> None:
        self._register()
        target = f"{self.settings.host}:{self.settings.port}"
        credentials = server_credentials(self.settings)
        self.port = (self.server.add_secure_port(target, credentials) if credentials
                     else self.server.add_insecure_port(target))
        if self.port == 0:
            raise RuntimeError(f"could not bind {self.settings.host}:{self.settings.port}")
        # grpc's health servicer answers SERVING for "" from birth: say NOT_SERVING until the
        # models are loaded, or probes route calls to a process that cannot answer them yet.
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        self.metrics_port = start_metrics_server(self.settings.metrics_port, self.settings.host)
        await self.app.start()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("%s serving on %s (metrics :%s)", self.app.name, self.address, self.metrics_port)

    def _register(self) -> None:
        self.app.register(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = [*self.app.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
        pool = getattr(self.app, "pool", None)
        if pool is not None:  # a model service (the gateway holds no models)
            oip.add_to_server(self.server, self.app.name, pool, self.readiness)
            names.append(oip.SERVICE_NAME)
        reflection.enable_server_reflection(names, self.server)

    async def _set_health(self, status: int) -> None:
        self.readiness.ready = status == health_pb2.HealthCheckResponse.SERVING
        for name in ["", *self.app.service_names]:
            await self.health.set(name, status)

    async def stop(self, grace: float | None = None) -> None:
        """Flip readiness, let in-flight calls finish, then release the models."""
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(self.settings.drain_seconds if grace is None else grace)
        await self.app.stop()

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


async def serve_until_signal(app: App, settings: ServerSettings) -> None:
    """Run the app until SIGTERM or SIGINT, then drain gracefully (what __main__ calls)."""
    tracing.configure(app.name, settings.otlp_endpoint)
    running = RunningServer(app, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await running.start()
    print(f"READY {app.name} grpc={running.address} metrics={running.metrics_port}", flush=True)
    await stop.wait()
    log.info("%s draining (up to %.1fs)", app.name, settings.drain_seconds)
    await running.stop()
    tracing.shutdown()  # the spans of the last calls still go out


def configure_logging(level: str, name: str) -> None:
    """Log lines name the process and, inside a traced call, its trace id (`` trace=…``)."""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {name} %(levelname)s %(name)s%(trace)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(tracing.TraceIdFilter())
