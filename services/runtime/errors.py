"""One error base for every service, carrying the gRPC status it maps to.

Handlers raise these; the server interceptor turns them into gRPC statuses. Any other
exception is a bug: it is logged with its stack and reaches the caller only as
"internal error", so no internals leak.
"""
from __future__ import annotations

import grpc

# Status details travel in HTTP/2 trailers (8 KiB by default): an error quoting a caller's
# megabyte-long string would break the reply, and fill the log.
MAX_MESSAGE_CHARS = 1024
MAX_QUOTED_CHARS = 64


def quoted(value: object, limit: int = MAX_QUOTED_CHARS) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters with its length."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(str(value))} characters)"


def capped(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return message if len(message) <= limit else f"{message[:limit]}... (cut)"


class XCloudError(Exception):
    """Base of every error a caller is meant to see; its message is capped in length."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        message = capped(message)
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
