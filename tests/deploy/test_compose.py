"""docker-compose.yml and the Dockerfile, offline: the compose file is valid for docker-compose,
its processes are locked down, and every place that names a process's ports agrees with the
one table of them, xcloud/ports.py (Dockerfile targets, compose services and the gateway's
backends there, Prometheus scrape config, Helm values, the launcher's defaults).
The stack itself runs in `make compose-smoke` (deploy/scripts/compose-smoke.sh)."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.tools import CHART, run_tool, tool
from xcloud import ports, stack

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
PROMETHEUS = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
TARGET = re.compile(r"^FROM \S+ AS (\S+)\n(?:ENV (.*)\n)?", re.MULTILINE)
EXPOSE = re.compile(r"^FROM \S+ AS (\S+)\n(?:(?!FROM ).*\n)*?EXPOSE (\d+) (\d+)$", re.MULTILINE)
PORTS = {"gateway": ports.GATEWAY, **ports.SERVICES}  # the one table (xcloud/ports.py)


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def processes() -> dict[str, dict]:
    """Compose services built from the project's Dockerfile: the XCloud processes."""
    return {name: s for name, s in compose()["services"].items()
            if s.get("build", {}).get("context") == "."}


def dockerfile_health_ports() -> dict[str, int]:
    """Dockerfile target -> the gRPC port its health check probes."""
    ports = {}
    for target, env in TARGET.findall(DOCKERFILE.read_text()):
        found = re.search(r"XCLOUD_HEALTH_PORT=(\d+)", env)
        if found:
            ports[target] = int(found.group(1))
    return ports


def chart_ports() -> dict[str, tuple[int, int]]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    entries = {"gateway": values["gateway"], **values["services"]}
    return {name: (e["port"], e["metricsPort"]) for name, e in entries.items()}


def test_docker_compose_accepts_the_file():
    docker_compose = tool("docker-compose", "docker-compose")
    result = run_tool(docker_compose, "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE),
                      "--profile", "grafana", "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_processes_are_locked_down_and_published_on_loopback_only():
    for name, service in compose()["services"].items():
        assert service.get("read_only") is True, name
        assert service.get("cap_drop") == ["ALL"], name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
    for name, service in processes().items():
        assert "/tmp" in service["tmpfs"], name


def test_every_process_has_its_dockerfile_target_and_agreed_ports():
    health = dockerfile_health_ports()
    ports = chart_ports()
    for name, service in processes().items():
        target = service["build"]["target"]
        assert target == name and target in health, name
        assert health[target] == ports[name][0], name
    assert set(processes()) == set(ports)


def test_prometheus_scrapes_every_process_on_its_metrics_port():
    (job,) = [j for j in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]
              if j["job_name"] == "xcloud"]
    scraped = {c["names"][0]: c["port"] for c in job["dns_sd_configs"]}
    assert scraped == {name: metrics for name, (_, metrics) in chart_ports().items()}


@pytest.mark.parametrize("spec", [*stack.SERVICES, stack.GATEWAY], ids=lambda s: s.name)
def test_launcher_defaults_match_the_deployment_ports(spec):
    assert chart_ports()[spec.name] == (spec.port, spec.metrics_port)


def test_the_chart_uses_the_ports_table():
    assert chart_ports() == {name: (p.grpc, p.metrics) for name, p in PORTS.items()}


def test_the_dockerfile_exposes_the_ports_table():
    exposed = {target: (int(grpc), int(metrics))
               for target, grpc, metrics in EXPOSE.findall(DOCKERFILE.read_text())}
    assert exposed == {name: (p.grpc, p.metrics) for name, p in PORTS.items()}


def test_compose_wires_the_gateway_with_the_ports_table():
    gateway = compose()["services"]["gateway"]
    environment = gateway["environment"]
    backends = json.loads(environment["XCLOUD_GATEWAY_BACKENDS"])
    assert {name: (int(b["address"].rsplit(":", 1)[1]),
                   int(b["metrics_url"].rsplit(":", 1)[1].split("/")[0]))
            for name, b in backends.items()} == \
        {name: (p.grpc, p.metrics) for name, p in ports.SERVICES.items()}
    assert environment["XCLOUD_GATEWAY_METRICS_URL"] == \
        f"http://gateway:{ports.GATEWAY.metrics}/metrics"
    assert [p.rsplit(":", 1)[1] for p in gateway["ports"]] == [str(ports.GATEWAY.grpc)]
