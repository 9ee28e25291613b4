"""Protobuf construction shared by the gateway modules (statuses, backend listings)."""
from __future__ import annotations

import grpc

from gateway.settings import BackendSettings
from xcloud.v1 import common_pb2, gateway_pb2

_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def grpc_code(status: common_pb2.TaskStatus) -> grpc.StatusCode:
    return _BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)


def status_code(code: grpc.StatusCode) -> int:
    """gRPC status as the common.proto StatusCode enum (the numbers are the same)."""
    return code.value[0]


def task_status(task: str, code: grpc.StatusCode = grpc.StatusCode.OK, message: str = "",
                model: common_pb2.ModelInfo | None = None,
                cached: bool = False) -> common_pb2.TaskStatus:
    return common_pb2.TaskStatus(
        task=task, code=status_code(code), message=message, model=model, cached=cached
    )


def code_name(status: common_pb2.TaskStatus) -> str:
    """Short code name for metric labels, e.g. "OK", "UNAVAILABLE"."""
    return common_pb2.StatusCode.Name(status.code).removeprefix("STATUS_CODE_")


def backend_to_proto(name: str, backend: BackendSettings, tasks: list[str]) -> gateway_pb2.Backend:
    return gateway_pb2.Backend(
        name=name, address=backend.address, metrics_url=backend.metrics_url, tasks=tasks
    )


def merged_models(listings: list[common_pb2.ListModelsResponse]) -> common_pb2.ListModelsResponse:
    """Every backend's models in one listing, ordered by service then model name."""
    models = [m for listing in listings for m in listing.models]
    models.sort(key=lambda m: (m.service, m.model.name, m.model.version))
    return common_pb2.ListModelsResponse(models=models)
