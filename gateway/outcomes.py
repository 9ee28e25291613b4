"""What one task contributes to an answer, and the request it belongs to: shared by the
orchestration (gateway/analyze.py), the batched per-face calls (gateway/faces.py), the cached
call (gateway/cached.py) and ScoreContent (gateway/content.py)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from gateway.clients import BackendError, Deadline, Metadata
from gateway.converters import grpc_code, task_status
from services.runtime.errors import XCloudError
from xcloud.v1 import common_pb2, gateway_pb2

T = TypeVar("T")
# Input the backend refused as the caller's to fix: the whole call fails with the backend's
# own code and message, not just the task (every other failure is the task's status).
CALLER_ERRORS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)


@dataclass(frozen=True)
class Outcome:
    """What one task contributes: its status and the part of the answer it fills (an
    AnalyzeResponse fragment for Analyze tasks, the ScoreContentResponse for content)."""

    status: common_pb2.TaskStatus
    fragment: Message | None = None
    detail: str = ""          # the backend's own message, for whole-call failures
    key: str | None = None    # cache key the result lives under (per-face keys build on it)

    @property
    def ok(self) -> bool:
        return self.status.code == common_pb2.STATUS_CODE_OK

    def raise_if_callers_fault(self) -> None:
        """Fail the whole call when the backend refused the input as the caller's fault."""
        code = grpc_code(self.status)
        if code in CALLER_ERRORS:
            raise XCloudError(self.detail, code)


@dataclass(frozen=True)
class Job:
    """One Analyze call as every task of it sees it."""

    request: gateway_pb2.AnalyzeRequest
    deadline: Deadline
    metadata: Metadata
    digest: bytes  # sha256 of the image bytes


Compute = Callable[[], Awaitable[Outcome]]


async def captured(task: str, compute: Callable[[], Awaitable[T]]) -> T | Outcome:
    """Run ``compute``; a backend failure becomes this task's status instead of an error."""
    try:
        return await compute()
    except BackendError as exc:
        return failed(task, exc)


def failed(task: str, error: BackendError) -> Outcome:
    return Outcome(task_status(task, error.code, error.message), detail=error.details)


def succeeded(task: str, fragment: Message, model: common_pb2.ModelInfo,
              message: str = "") -> Outcome:
    return Outcome(task_status(task, message=message, model=model), fragment)


def needs_detection(task: str, detection: Outcome) -> Outcome:
    """A per-face task's answer when detection failed: detection's code, and why."""
    message = f"needs detection, which failed: {detection.status.message}"
    return Outcome(common_pb2.TaskStatus(task=task, code=detection.status.code, message=message))
