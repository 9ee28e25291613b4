"""Container health check: exit 0 only when the process answers grpc.health.v1 with SERVING.

Docker's HEALTHCHECK runs it inside the container (Kubernetes uses its native gRPC probe);
the port is the one the image's target serves on (``XCLOUD_HEALTH_PORT``).
"""
import os
import sys

from xcloud.client import health_status


def main() -> int:
    address = f"127.0.0.1:{os.environ.get('XCLOUD_HEALTH_PORT', '50051')}"
    status = health_status(address, 3.0)
    if status != "SERVING":
        print(f"{address}: {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
