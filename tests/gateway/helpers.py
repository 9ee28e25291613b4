"""Helpers of the gateway tests: free ports, metric samples."""
from __future__ import annotations

import socket

from prometheus_client import REGISTRY

IMAGE = b"not decoded by the gateway; loopback backends ignore it"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
