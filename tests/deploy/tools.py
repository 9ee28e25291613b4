"""Offline deployment checks: the Helm chart rendered in-process, and the external tools.

The chart is rendered by Helm's own Go library (PyPI ``helm-python-sdk``), so no cluster and
no ``helm`` binary are needed. ``promtool`` (Debian ``prometheus``) and ``docker-compose``
(Debian ``docker-compose``) are installed by ``.ci/run``; tests needing one skip without it.
"""
from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

CHART = REPO_ROOT / "deploy" / "helm" / "xcloud"
CI_VALUES = CHART / "ci" / "ci-values.yaml"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules"
DASHBOARDS = REPO_ROOT / "deploy" / "grafana" / "dashboards"
KUBE_VERSION = "1.30.0"
RELEASE, NAMESPACE = "xc", "ml"


def helm():
    """The helm_python module, or a skip naming what to install."""
    module = pytest.importorskip(
        "helm_python", reason="helm-python-sdk is not installed (pip install -e '.[dev]')"
    )
    module.disable_logging()
    return module


def tool(name: str, package: str) -> str:
    """Path of a command-line tool, or a skip naming the Debian package that has it."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package}; .ci/run installs it)")
    return path


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a checker; its exit code and output are the test's to judge."""
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)


def ci_values() -> dict[str, Any]:
    return yaml.safe_load(CI_VALUES.read_text())


def tls_values() -> dict[str, Any]:
    """Every service on, the gateway's port on TLS and mutual TLS behind it."""
    services = yaml.safe_load((CHART / "values.yaml").read_text())["services"]
    return {"tls": {"gatewaySecret": "xcloud-gateway-public",
                    "internal": {"enabled": True, "clientName": "xcloud-gateway"}},
            "services": {name: {"enabled": True} for name in services}}


def render(values: dict[str, Any] | None = None) -> dict[str, str]:
    """Template path -> rendered text, exactly as `helm template` would produce it."""
    return dict(_render(json.dumps(values, sort_keys=True)))


@functools.lru_cache(maxsize=8)
def _render(values_json: str) -> tuple[tuple[str, str], ...]:
    # cached: several tests look at the same rendering, and loading the chart takes a while
    with helm().Chart.load(str(CHART)) as chart:
        rendered = chart.render(json.loads(values_json), name=RELEASE, namespace=NAMESPACE)
    return tuple(rendered.items())


def render_objects(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders (NOTES.txt left out)."""
    objects = []
    for path, text in render(values).items():
        if path.endswith(".yaml"):
            objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Objects of one kind by their app.kubernetes.io/component label."""
    return {o["metadata"]["labels"]["app.kubernetes.io/component"]: o
            for o in objects if o["kind"] == kind}


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.yml"))
