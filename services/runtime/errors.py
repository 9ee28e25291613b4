"""One error base for every service, carrying the gRPC status it maps to.

Handlers raise these; the server interceptor turns them into gRPC statuses. Any other
exception is a bug: it is logged with its stack and reaches the caller only as
"internal error", so no internals leak.
"""
from __future__ import annotations

import grpc


class XCloudError(Exception):
    """Base of every error a caller is meant to see."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(XCloudError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class TooLarge(XCloudError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Overloaded(XCloudError):
    """The queue is full: the caller should back off and retry."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class ModelNotInstalled(XCloudError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class DeadlineExpired(XCloudError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotReady(XCloudError):
    code = grpc.StatusCode.UNAVAILABLE
