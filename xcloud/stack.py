"""The processes `make run` starts: one entry per service, then the gateway.

Adding a service to the local stack is one entry in xcloud/ports.py (its ports), which
``SERVICES`` lists; the launcher derives its environment
(``<env_prefix>HOST``/``PORT``/``METRICS_PORT``) and its entry in the gateway's ``BACKENDS``
from it.
"""
from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass

from xcloud import ports


@dataclass(frozen=True)
class ProcessSpec:
    name: str          # process name in logs, banners and the gateway's backend table
    module: str        # run as ``python -m <module>``
    env_prefix: str    # pydantic-settings prefix of the process, e.g. "XCLOUD_FACE_DETECTION_"
    port: int          # default gRPC port
    metrics_port: int  # default Prometheus port


def _service(name: str, default: ports.Ports) -> ProcessSpec:
    """A service under services/<name>, at its ports of xcloud/ports.py."""
    return ProcessSpec(name, f"services.{name}", f"XCLOUD_{name.upper()}_", default.grpc,
                       default.metrics)


SERVICES: tuple[ProcessSpec, ...] = tuple(
    _service(name, default) for name, default in ports.SERVICES.items())

GATEWAY = ProcessSpec("gateway", "gateway", "XCLOUD_GATEWAY_", ports.GATEWAY.grpc,
                      ports.GATEWAY.metrics)


@dataclass(frozen=True)
class Endpoint:
    """Where a started process actually listens (from its READY line)."""

    name: str
    address: str              # host:port of the gRPC server
    metrics_port: int | None

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def metrics_url(self) -> str:
        return f"http://{self.host}:{self.metrics_port}/metrics" if self.metrics_port else ""


def connect_host(bind_host: str) -> str:
    """The host clients dial for a server bound to ``bind_host`` (wildcards mean loopback)."""
    return "127.0.0.1" if bind_host in ("", "0.0.0.0", "::", "[::]") else bind_host


def backends_json(endpoints: list[Endpoint]) -> str:
    """The gateway's ``XCLOUD_GATEWAY_BACKENDS`` value for the started services."""
    return json.dumps({e.name: {"address": e.address, "metrics_url": e.metrics_url}
                       for e in endpoints})


# What every process prints once it serves (services/runtime/server.py).
READY_RE = re.compile(r"^READY (?P<name>\S+) grpc=(?P<address>\S+) metrics=(?P<metrics>\S+)")


def endpoint_from(name: str, ready: re.Match[str]) -> Endpoint:
    """The endpoint a READY line announces (``metrics=None`` means no metrics server)."""
    host, _, port = ready["address"].rpartition(":")
    metrics = ready["metrics"]
    return Endpoint(name, f"{connect_host(host)}:{port}",
                    int(metrics) if metrics.isdigit() else None)


def child_env(spec: ProcessSpec, host: str, port: int, metrics_port: int,
              extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one process: ours, plus where it binds, plus ``extra``."""
    env = dict(os.environ)
    env.update({
        f"{spec.env_prefix}HOST": host,
        f"{spec.env_prefix}PORT": str(port),
        f"{spec.env_prefix}METRICS_PORT": str(metrics_port),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
