"""Checks of a running docker-compose stack (run by deploy/scripts/compose-smoke.sh).

    python deploy/scripts/smoke_check.py --gateway 127.0.0.1:50051 \
        --prometheus http://127.0.0.1:9090 [--grafana http://127.0.0.1:3000 | --grafana-skip WHY]

Analyze goes through the gateway twice (the second answer must come from the Redis cache),
Prometheus must have every XCloud process as an "up" target with their series and the alert
rules loaded, Grafana must answer and have the XCloud dashboard. Prints one line per check and
exits 1 if any failed.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from xcloud.client import GatewayClient, analyze_request, health_status
from xcloud.v1 import common_pb2

PROCESSES = ("gateway", "face_detection", "face_attributes", "expression", "fine_grained",
             "animal_identity", "text_quality")  # what docker-compose.yml starts
FACE_TASKS = ["detection", "attributes", "expression", "embedding", "fine_grained"]
WAIT_S = 180.0


def wait_for(what: str, probe: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Call ``probe`` until it returns something truthy; its last exception explains a time-out."""
    deadline, error = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - anything is worth one more try until the deadline
            error = exc
        time.sleep(2)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s ({error or 'no answer'})")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.loads(reply.read())


def portrait_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def check_analyze(gateway: str) -> str:
    wait_for("gateway SERVING", lambda: health_status(gateway, 3.0) == "SERVING")
    with GatewayClient(gateway, timeout=30.0) as client:
        request = analyze_request(portrait_jpeg(), ["detection"])
        first, second = client.analyze(request), client.analyze(request)
    status = first.statuses[0]
    if (len(first.faces) != 1 or status.code != common_pb2.STATUS_CODE_OK
            or not second.statuses[0].cached):
        raise AssertionError(f"unexpected answers: {first} / {second}")
    every = check_every_task(gateway)
    return (f"1 face (score {first.faces[0].face.score:.3f}) by {status.model.name} "
            f"v{status.model.version}; repeated call answered from the Redis cache; {every}")


def check_every_task(gateway: str) -> str:
    """Every per-face and whole-image task answers OK through the gateway, with its model."""
    with GatewayClient(gateway, timeout=60.0) as client:
        reply = client.analyze(analyze_request(portrait_jpeg(), FACE_TASKS, no_cache=True))
    failed = [s for s in reply.statuses if s.code != common_pb2.STATUS_CODE_OK]
    if failed or len(reply.faces) != 1:
        raise AssertionError(f"tasks not OK: {failed}")
    parts = [s for s in reply.faces[0].attributes.statuses if s.code != common_pb2.STATUS_CODE_OK]
    if parts:
        raise AssertionError(f"attribute parts not OK: {parts}")
    return "tasks " + ", ".join(f"{s.task} ({s.model.name})" for s in reply.statuses) + " OK"


def check_prometheus(base: str) -> str:
    def all_up() -> list[dict] | None:
        targets = get_json(f"{base}/api/v1/targets")["data"]["activeTargets"]
        processes = {t["labels"].get("process") for t in targets}
        ready = all(t["health"] == "up" for t in targets) and processes >= set(PROCESSES)
        return targets if ready else None

    targets = wait_for("every Prometheus target up", all_up, timeout=90)
    query = urllib.parse.quote('sum(xcloud_gateway_tasks_total{task="detection"})')
    wait_for("Analyze counted in Prometheus",
             lambda: get_json(f"{base}/api/v1/query?query={query}")["data"]["result"], timeout=60)
    groups = get_json(f"{base}/api/v1/rules")["data"]["groups"]
    rules = sum(len(g["rules"]) for g in groups)
    names = sorted(f"{t['labels'].get('process', t['labels']['job'])}" for t in targets)
    return f"{len(targets)} targets up ({', '.join(names)}); {rules} rules loaded"


def check_grafana(base: str) -> str:
    health = wait_for("Grafana health", lambda: get_json(f"{base}/api/health"), timeout=90)
    found = wait_for("XCloud dashboard provisioned",
                     lambda: get_json(f"{base}/api/search?query=XCloud"), timeout=60)
    return f"Grafana {health.get('version')} ({health.get('database')}); dashboards: " + \
        ", ".join(d["title"] for d in found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--prometheus", required=True)
    grafana = parser.add_mutually_exclusive_group(required=True)
    grafana.add_argument("--grafana")
    grafana.add_argument("--grafana-skip", metavar="REASON")
    args = parser.parse_args(argv)
    checks: list[tuple[str, Callable[[], str]]] = [
        ("analyze", lambda: check_analyze(args.gateway)),
        ("prometheus", lambda: check_prometheus(args.prometheus)),
    ]
    if args.grafana:
        checks.append(("grafana", lambda: check_grafana(args.grafana)))
    failed = 0
    for name, check in checks:
        try:
            print(f"PASS {name}: {check()}", flush=True)
        except Exception as exc:  # noqa: BLE001 - every check reports, then the exit code says
            failed += 1
            print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
    if args.grafana_skip:
        print(f"SKIP grafana: {args.grafana_skip}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
