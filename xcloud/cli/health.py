"""xcloud health: is every process of the stack serving, and do their metrics answer?

The gateway's ListBackends says which processes stand behind it; each one (and the gateway)
is then asked directly over grpc.health.v1, and its metrics URL is fetched.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import grpc

from xcloud.cli import formatting
from xcloud.client import UNREACHABLE, GatewayClient, health_status

SERVING = "SERVING"
METRICS_TIMEOUT_S = 2.0


@dataclass
class Check:
    process: str
    address: str
    metrics_url: str
    status: str = UNREACHABLE
    metrics: bool | None = None  # None: no metrics URL configured


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "health", parents=parents, help="check the gateway and every backend",
        description="Exit code 0 only when the gateway and every backend are SERVING.",
    )
    p.add_argument("--json", action="store_true", help="print the checks as one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with GatewayClient(args.gateway, args.timeout) as client:
        try:
            backends = client.list_backends()
        except grpc.RpcError as exc:
            print(f"xcloud health: the gateway at {client.address} is unreachable: "
                  f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            _report([Check("gateway", client.address, "")], args.json)
            return 1
    checks = [Check("gateway", client.address, backends.metrics_url)]
    checks += [Check(b.name, b.address, b.metrics_url) for b in backends.backends]
    timeout = min(args.timeout, 5.0)
    with ThreadPoolExecutor(max_workers=min(16, 2 * len(checks))) as pool:
        list(pool.map(lambda c: _probe(c, timeout), checks))
    _report(checks, args.json)
    return 0 if all(c.status == SERVING for c in checks) else 1


def _probe(check: Check, timeout: float) -> None:
    check.status = health_status(check.address, timeout)
    if check.metrics_url:
        check.metrics = metrics_answer(check.metrics_url)


def metrics_answer(url: str, timeout: float = METRICS_TIMEOUT_S) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status == 200
    except (OSError, ValueError):
        return False


def _report(checks: list[Check], as_json: bool) -> None:
    healthy = all(c.status == SERVING for c in checks)
    if as_json:
        print(json.dumps({"healthy": healthy, "processes": [asdict(c) for c in checks]}))
        return
    rows = [(c.process, c.address, c.metrics_url or "-", c.status, formatting.yes_no(c.metrics))
            for c in checks]
    print(formatting.table(("process", "gRPC address", "metrics URL", "status", "metrics"), rows))
    print("all processes SERVING" if healthy else "NOT HEALTHY: some processes are not SERVING")
