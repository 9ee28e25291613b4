"""Container health check: exit 0 only when the process answers grpc.health.v1 with SERVING.

Docker's HEALTHCHECK runs it inside the container, and so does Kubernetes when the port
speaks TLS (the kubelet's native gRPC probe is plaintext only). The port is the one the
image's target serves on (``XCLOUD_HEALTH_PORT``). With ``XCLOUD_HEALTH_TLS_DIR`` (a folder
holding ca.crt, tls.crt and tls.key, cert-manager's layout: the process's own certificate,
accepted by its own mutual TLS) the check speaks TLS and checks the server's certificate
against ``XCLOUD_HEALTH_TLS_NAME`` (default localhost).
"""
import os
import sys
from pathlib import Path

from services.runtime.tls import client_credentials
from xcloud.client import health_status


def tls_credentials(folder: str | None):
    if not folder:
        return None
    tls = Path(folder)
    return client_credentials(tls / "ca.crt", tls / "tls.crt", tls / "tls.key")


def main() -> int:
    address = f"127.0.0.1:{os.environ.get('XCLOUD_HEALTH_PORT', '50051')}"
    credentials = tls_credentials(os.environ.get("XCLOUD_HEALTH_TLS_DIR"))
    status = health_status(address, 3.0, credentials=credentials,
                           server_name=os.environ.get("XCLOUD_HEALTH_TLS_NAME", "localhost"))
    if status != "SERVING":
        print(f"{address}: {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
