"""The committed Grafana JSON is exactly what deploy/grafana/build_dashboards.py generates.

Whoever edits a dashboard edits the builder and runs `make dashboards`; a hand edit of the JSON
(or a builder change without regenerating) fails here. test_monitoring.py checks, on the same
JSON, that every metric a panel uses is exported.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tests.deploy.tools import DASHBOARDS

builder = pytest.importorskip(
    "deploy.grafana.build_dashboards",
    reason="grafana-foundation-sdk is not installed (pip install -e '.[dev]')",
)


def test_every_committed_dashboard_is_generated_and_nothing_else():
    committed = {p.name for p in DASHBOARDS.glob("*.json")}
    assert committed == set(builder.DASHBOARDS)


@pytest.mark.parametrize("name", sorted(builder.DASHBOARDS))
def test_the_committed_json_equals_the_builders(name):
    generated = builder.rendered()[name]
    assert (DASHBOARDS / name).read_text() == generated, "run `make dashboards`"


def test_the_generated_dashboard_is_one_grafana_can_provision():
    dashboard = json.loads(builder.rendered()["xcloud.json"])
    assert dashboard["uid"] == "xcloud-overview"
    ids = [p["id"] for p in dashboard["panels"]]
    assert ids == list(range(1, len(ids) + 1))
    # every panel inside the 24-column grid, none overlapping another
    cells = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not area & cells, panel["title"]
        cells |= area


def build(*args: str) -> subprocess.CompletedProcess:
    """``python -m deploy.grafana.build_dashboards ARGS`` as `make dashboards` runs it."""
    return subprocess.run([sys.executable, "-m", "deploy.grafana.build_dashboards", *args],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=False)


def test_check_mode_finds_a_stale_file(tmp_path):
    written = build("--out", str(tmp_path))
    assert written.returncode == 0, written.stderr
    assert build("--check", "--out", str(tmp_path)).returncode == 0
    path = tmp_path / "xcloud.json"
    path.write_text(path.read_text().replace("Request rate", "Requests"))
    stale = build("--check", "--out", str(tmp_path))
    assert stale.returncode == 1 and "make dashboards" in stale.stderr
