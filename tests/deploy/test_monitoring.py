"""Alert rules, dashboards and the metrics they name.

promtool checks the rules and runs their unit tests (deploy/prometheus/tests); the chart's
PrometheusRule carries exactly those groups; and every metric a dashboard panel or an alert
uses is exported by the running face-detection service and gateway (scraped over HTTP).
"""
from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.face_detection.app import FaceDetectionApp
from services.face_detection.handler import MTCNN_PARTS
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.repository import ModelRepository
from tests.deploy.tools import DASHBOARDS, RULES, render_objects, rule_files, run_tool, tool
from tests.support.servers import running
from xcloud.client import analyze_request
from xcloud.v1 import gateway_pb2_grpc

RULE_TESTS = RULES.parent / "tests"
# A PromQL identifier; metric names are the ones that start with xcloud_ (label names and
# functions never do), recording-rule names contain a colon.
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
            "summary": ("_sum", "_count")}


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_expressions() -> list[str]:
    return [t["expr"] for d in dashboards().values() for p in panels(d)
            for t in p.get("targets", [])]


def rules() -> list[dict[str, Any]]:
    return [rule for path in rule_files() for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"]]


def metric_names(expression: str) -> set[str]:
    return set(IDENTIFIER.findall(QUOTED.sub('""', expression)))


def test_promtool_accepts_the_rules():
    promtool = tool("promtool", "prometheus")
    result = run_tool(promtool, "check", "rules", *map(str, rule_files()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_on_their_unit_test_series():
    promtool = tool("promtool", "prometheus")
    tests = sorted(RULE_TESTS.glob("*.yml"))
    result = run_tool(promtool, "test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_chart_prometheus_rule_carries_the_rule_files():
    (rule,) = [o for o in render_objects() if o["kind"] == "PrometheusRule"]
    groups = [g for path in rule_files() for g in yaml.safe_load(path.read_text())["groups"]]
    assert rule["spec"]["groups"] == groups


def test_the_dashboard_covers_what_ops_watch():
    (dashboard,) = dashboards().values()
    text = " ".join(dashboard_expressions())
    for needle in ("xcloud_grpc_requests_total", 'code!="OK"', "histogram_quantile(0.99",
                   "xcloud_queue_seconds_bucket", "xcloud_inference_seconds_bucket",
                   "xcloud_batch_size_bucket", "xcloud_grpc_inflight_requests",
                   'result="hit"', "xcloud_gateway_tasks_total"):
        assert needle in text, needle
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables >= {"datasource", "service", "model"}
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.fixture(scope="module")
async def exported(astronaut_jpeg) -> set[str]:
    """Metric names scraped from a running face-detection service and gateway after one call."""
    detection = FaceDetectionSettings(port=0, metrics_port=0, max_batch_size=1)
    repository = ModelRepository(detection.model_repository)
    # (not the detection_models fixture: importing the model builders means importing torch)
    if not all(repository.is_installed(name) for name in MTCNN_PARTS):
        pytest.skip("MTCNN models are not built: run `make models`")
    async with running(FaceDetectionApp(detection), detection) as backend:
        settings = GatewaySettings(
            port=0, metrics_port=0, drain_seconds=0.0,
            backends={"face_detection": BackendSettings(address=backend.address)},
        )
        async with running(GatewayApp(settings), settings) as gateway:
            async with grpc.aio.insecure_channel(gateway.address) as channel:
                stub = gateway_pb2_grpc.GatewayStub(channel)
                await stub.Analyze(analyze_request(astronaut_jpeg, ["detection"]), timeout=30)
            names = scrape(gateway.metrics_port) | scrape(backend.metrics_port)
    return names


def scrape(port: int | None) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


async def test_every_metric_in_dashboards_and_alerts_is_exported(exported):
    recorded = {r["record"] for r in rules() if "record" in r}
    used = set().union(*map(metric_names, dashboard_expressions()),
                       *(metric_names(r["expr"]) for r in rules()))
    metrics = {n for n in used if n.startswith("xcloud_") or ":" in n}
    assert metrics, "no metric found in the dashboards and rules"
    missing = sorted(n for n in metrics if n not in exported and n not in recorded)
    assert missing == [], f"used but neither exported nor recorded: {missing}"
