"""A small client for the XCloud gateway: one channel, request-id metadata, health checks."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from xcloud import ports
from xcloud.v1 import (
    animal_identity_pb2,
    common_pb2,
    face_detection_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
)

DEFAULT_GATEWAY = f"127.0.0.1:{ports.GATEWAY.grpc}"
GATEWAY_ENV = "XCLOUD_GATEWAY"
# The gateway's API key, when it has keys on. Read from the environment only: a key given on
# the command line would show in `ps` and in shell history.
API_KEY_ENV = "XCLOUD_API_KEY"
REQUEST_ID_KEY = "x-request-id"  # the servers' interceptor reads it and echoes it back
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
UNREACHABLE = "UNREACHABLE"


def default_gateway() -> str:
    return os.environ.get(GATEWAY_ENV) or DEFAULT_GATEWAY


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def request_metadata(request_id: str | None = None,
                     api_key: str | None = None) -> tuple[tuple[str, str], ...]:
    """x-request-id, plus the bearer key when there is one."""
    metadata = [(REQUEST_ID_KEY, request_id or new_request_id())]
    if api_key:
        metadata.append(("authorization", f"Bearer {api_key}"))
    return tuple(metadata)


def open_channel(address: str, credentials: grpc.ChannelCredentials | None = None,
                 server_name: str | None = None) -> grpc.Channel:
    """A channel to ``address``: plaintext, or TLS with ``credentials`` (the server's
    certificate checked against ``server_name`` when given, else the address's host)."""
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    if credentials is None:
        return grpc.insecure_channel(address, options=options)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(address, credentials, options=options)


def analyze_request(image: bytes, tasks: Iterable[str] = (), *, min_face_size: float = 0.0,
                    score_threshold: float = 0.0, max_faces: int = 0,
                    no_cache: bool = False, fine_grained_model: str = "",
                    top_k: int = 0, collection: str = "",
                    identify_top_k: int = 0) -> gateway_pb2.AnalyzeRequest:
    """An AnalyzeRequest; zero options mean "the service default"."""
    detection = face_detection_pb2.DetectOptions(
        min_face_size=min_face_size, score_threshold=score_threshold, max_faces=max_faces
    )
    fine_grained = gateway_pb2.FineGrainedOptions(model=fine_grained_model, top_k=top_k)
    identify = animal_identity_pb2.IdentifyOptions(collection=collection, top_k=identify_top_k)
    options = gateway_pb2.AnalyzeOptions(detection=detection, no_cache=no_cache,
                                         fine_grained=fine_grained, identify=identify)
    return gateway_pb2.AnalyzeRequest(
        image=common_pb2.Image(content=image), tasks=list(tasks), options=options
    )


class GatewayClient:
    """Blocking calls to the gateway; every call carries an ``x-request-id``, and the API key
    (``api_key``, else $XCLOUD_API_KEY) when there is one."""

    def __init__(self, address: str | None = None, timeout: float = 30.0,
                 api_key: str | None = None):
        self.address = address or default_gateway()
        self.timeout = timeout
        self.api_key = api_key or os.environ.get(API_KEY_ENV) or None
        self.channel = open_channel(self.address)
        self.stub = gateway_pb2_grpc.GatewayStub(self.channel)

    def analyze(self, request: gateway_pb2.AnalyzeRequest,
                request_id: str | None = None) -> gateway_pb2.AnalyzeResponse:
        return self.stub.Analyze(request, timeout=self.timeout,
                                 metadata=request_metadata(request_id, self.api_key))

    def list_models(self) -> common_pb2.ListModelsResponse:
        return self.stub.ListModels(common_pb2.ListModelsRequest(), timeout=self.timeout,
                                    metadata=request_metadata(api_key=self.api_key))

    def list_backends(self) -> gateway_pb2.ListBackendsResponse:
        return self.stub.ListBackends(gateway_pb2.ListBackendsRequest(), timeout=self.timeout,
                                      metadata=request_metadata(api_key=self.api_key))

    def close(self) -> None:
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def health_status(address: str, timeout: float, service: str = "",
                  credentials: grpc.ChannelCredentials | None = None,
                  server_name: str | None = None) -> str:
    """grpc.health.v1 Check of ``address``: SERVING, NOT_SERVING, … or UNREACHABLE."""
    with open_channel(address, credentials, server_name) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError:
            return UNREACHABLE
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
