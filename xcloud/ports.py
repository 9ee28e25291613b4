"""Every process's default ports, in one table.

The settings defaults (services/*/settings.py, gateway/settings.py), the gateway's default
backends, the launcher (xcloud/stack.py) and the CLI's default gateway read it;
tests/deploy/test_compose.py holds the Dockerfile, docker-compose.yml, the Prometheus scrape
config and the Helm values to it. Changing a port is one edit here, then those files.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ports:
    grpc: int
    metrics: int  # Prometheus /metrics

    def local(self) -> tuple[str, str]:
        """(gRPC address, metrics URL) of the process on this machine."""
        return f"127.0.0.1:{self.grpc}", f"http://127.0.0.1:{self.metrics}/metrics"


GATEWAY = Ports(50051, 9151)
# The model services, in the order the launcher starts them; a service's metrics port is
# 9100 plus the last two digits of its gRPC port.
SERVICES: dict[str, Ports] = {
    "face_detection": Ports(50052, 9152),
    "face_attributes": Ports(50053, 9153),
    "expression": Ports(50054, 9154),
    "fine_grained": Ports(50055, 9155),
    "animal_identity": Ports(50056, 9156),
    "text_quality": Ports(50057, 9157),
}
