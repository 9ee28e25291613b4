"""What one task contributes to an Analyze answer, and the request it belongs to: shared by
the orchestration (gateway/analyze.py) and the batched per-face calls (gateway/faces.py)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from gateway.clients import BackendError, Deadline, Metadata
from gateway.converters import task_status
from gateway.tasks import TaskSpec
from xcloud.v1 import common_pb2, gateway_pb2

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What one task contributes: its status and the part of the answer it fills."""

    status: common_pb2.TaskStatus
    fragment: gateway_pb2.AnalyzeResponse | None = None
    detail: str = ""          # the backend's own message, for whole-call failures
    key: str | None = None    # cache key the result lives under (per-face keys build on it)

    @property
    def ok(self) -> bool:
        return self.status.code == common_pb2.STATUS_CODE_OK


@dataclass(frozen=True)
class Job:
    """One Analyze call as every task of it sees it."""

    request: gateway_pb2.AnalyzeRequest
    deadline: Deadline
    metadata: Metadata
    digest: bytes  # sha256 of the image bytes


Compute = Callable[[], Awaitable[Outcome]]


async def captured(spec: TaskSpec, compute: Callable[[], Awaitable[T]]) -> T | Outcome:
    """Run ``compute``; a backend failure becomes this task's status instead of an error."""
    try:
        return await compute()
    except BackendError as exc:
        return failed(spec.name, exc)


def failed(task: str, error: BackendError) -> Outcome:
    return Outcome(task_status(task, error.code, error.message), detail=error.details)


def succeeded(spec: TaskSpec, fragment: gateway_pb2.AnalyzeResponse,
              model: common_pb2.ModelInfo, message: str = "") -> Outcome:
    # The status travels inside the fragment so that a cache hit can report the model.
    status = task_status(spec.name, message=message, model=model)
    fragment.statuses.append(status)
    return Outcome(status, fragment)


def from_cache(task: str, value: bytes, key: str) -> Outcome:
    fragment = gateway_pb2.AnalyzeResponse.FromString(value)
    status = common_pb2.TaskStatus()
    if fragment.statuses:
        status.CopyFrom(fragment.statuses[0])
    status.task, status.cached = task, True
    return Outcome(status, fragment, key=key)


def needs_detection(task: str, detection: Outcome) -> Outcome:
    """A per-face task's answer when detection failed: detection's code, and why."""
    message = f"needs detection, which failed: {detection.status.message}"
    return Outcome(common_pb2.TaskStatus(task=task, code=detection.status.code, message=message))
