"""The whole stack as `make run` starts it: launcher → services → gateway, driven by the CLI.

Everything runs as real subprocesses on free loopback ports. The stack tests share one stack
and run in file order; the last one stops it with SIGTERM. The launcher's failure paths are
checked first on tiny stand-in processes.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.launched import LiveStack, launched
from xcloud import names
from xcloud.children import Backoff
from xcloud.launcher import Launcher, Options
from xcloud.stack import ProcessSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
# The launcher's children inherit the environment, so a repository set there is theirs too.
REPOSITORY = Path(os.environ.get("XCLOUD_FACE_DETECTION_MODEL_REPOSITORY")
                  or REPO_ROOT / "models" / "repository")
ONET = REPOSITORY / names.MTCNN_ONET / "1" / "model.onnx"
CLI_LIMIT_S = 120


FAKES = {
    "fake_ready": """
import signal, sys, time
stopped = []
signal.signal(signal.SIGTERM, lambda *_: stopped.append(1))
print("READY fake grpc=127.0.0.1:1 metrics=None", flush=True)
while not stopped:
    time.sleep(0.05)
print("drained", flush=True)
""",
    "fake_crash": "print('cannot load', flush=True)\nraise SystemExit(3)\n",
    "fake_silent": "import time\nprint('loading', flush=True)\ntime.sleep(600)\n",
    "fake_dies_later": """
import time
print("READY fake grpc=127.0.0.1:2 metrics=None", flush=True)
time.sleep(0.3)
raise SystemExit(4)
""",
}


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    for name, code in FAKES.items():
        (tmp_path / f"{name}.py").write_text(code)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))


async def launch(service_module: str, ready_timeout: float = 60) -> tuple[int, list[str]]:
    out = io.StringIO()
    services = (ProcessSpec("svc", service_module, "XCLOUD_FAKE_", 1, 2),)
    gateway = ProcessSpec("gateway", "fake_ready", "XCLOUD_FAKE_GATEWAY_", 3, 4)
    options = Options(free_ports=True, ready_timeout=ready_timeout, grace=30)
    code = await Launcher(options, services, gateway, stream=out).run()
    return code, out.getvalue().splitlines()


async def test_a_process_exiting_before_ready_stops_the_stack(fakes):
    code, lines = await launch("fake_crash")
    assert code == 1
    assert "svc      | cannot load" in lines
    assert any("error: svc exited with code 3 before it was ready" in line for line in lines)
    assert not any("started gateway" in line for line in lines)


async def test_a_process_that_never_gets_ready_is_stopped(fakes):
    code, lines = await launch("fake_silent", ready_timeout=1)
    assert code == 1
    assert any("error: svc did not become ready within 1s" in line for line in lines)
    assert any(line.endswith(f"| svc exited with code {-signal.SIGTERM}") for line in lines)


async def test_a_child_dying_after_start_is_restarted_with_backoff(fakes):
    out = io.StringIO()
    services = (ProcessSpec("svc", "fake_dies_later", "XCLOUD_FAKE_", 1, 2),)
    gateway = ProcessSpec("gateway", "fake_ready", "XCLOUD_FAKE_GATEWAY_", 3, 4)
    options = Options(free_ports=True, ready_timeout=60, grace=30,
                      restart_backoff=0.1, max_backoff=0.4, stable_after=60)
    launcher = Launcher(options, services, gateway, stream=out)
    running = asyncio.create_task(launcher.run())
    while launcher.restarts.get("svc", 0) < 4 and not running.done():
        await asyncio.sleep(0.05)
    launcher.request_stop()
    code = await running
    lines = out.getvalue().splitlines()
    assert code == 0, lines
    delays = [re.search(r"restart (\d) in ([\d.]+)s", line) for line in lines]
    delays = [(int(m[1]), float(m[2])) for m in delays if m]
    assert delays[:4] == [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.4)], lines  # doubling, capped
    assert any("error: svc exited unexpectedly with code 4" in line for line in lines)
    assert "launcher | svc is back (restart 1)" in lines
    assert sum("started gateway" in line for line in lines) == 1  # the gateway stayed up
    assert "gateway  | drained" in lines
    assert any(line.endswith("| gateway exited with code 0") for line in lines)


def test_backoff_resets_after_a_stable_run():
    backoff = Backoff(base=1, cap=8, stable_s=60)
    assert [backoff.next_delay(uptime=1) for _ in range(5)] == [1, 2, 4, 8, 8]
    assert backoff.next_delay(uptime=61) == 1


@pytest.fixture(scope="module")
def stack():
    with launched("--grace", "30") as live:
        yield live


def xcloud(stack: LiveStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xcloud.cli.main", "--gateway", stack.gateway, *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=CLI_LIMIT_S, check=False,
    )


@pytest.mark.slow
def test_health_lists_every_process_serving(stack):
    result = xcloud(stack, "health", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    by_name = {p["process"]: p for p in report["processes"]}
    assert {"gateway", "face_detection"} <= set(by_name)
    assert report["healthy"] is True
    for process in report["processes"]:
        assert process["status"] == "SERVING", process
        assert process["metrics"] is True, process


@pytest.mark.slow
def test_analyze_finds_the_astronaut(stack, astronaut_jpeg, tmp_path):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    result = xcloud(stack, "analyze", "--json", "--tasks", "detection", str(photo))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    status = next(s for s in answer["statuses"] if s["task"] == "detection")
    if not ONET.is_file():
        assert status["code"] == "STATUS_CODE_FAILED_PRECONDITION"
        assert "not installed" in status["message"]
        return
    assert status.get("code", "STATUS_CODE_OK") == "STATUS_CODE_OK", status
    assert (answer["imageWidth"], answer["imageHeight"]) == (512, 512)
    assert len(answer["faces"]) == 1
    box = answer["faces"][0]["face"]["box"]
    assert 0 <= box["xMin"] < box["xMax"] <= 512 and 0 <= box["yMin"] < box["yMax"] <= 512


@pytest.mark.slow
def test_analyze_prints_a_readable_table(stack, astronaut_jpeg, tmp_path):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg)
    result = xcloud(stack, "analyze", str(photo))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{photo}  ")
    if ONET.is_file():
        assert result.stdout.startswith(f"{photo}  512x512  1 face")
        assert "Face 1 · score" in result.stdout
    else:
        assert "FAILED_PRECONDITION" in result.stdout


@pytest.mark.slow
def test_models_lists_the_detector(stack):
    result = xcloud(stack, "models", "--json")
    assert result.returncode == 0, result.stderr
    listed = {m["model"]["name"] for m in json.loads(result.stdout).get("models", [])}
    assert set(names.MTCNN) <= listed


@pytest.mark.slow
def test_sigterm_stops_every_child_cleanly(stack):
    assert {"gateway", "face_detection"} <= set(stack.pids), stack.log()
    stack.process.send_signal(signal.SIGTERM)
    while stack.next_line(CLI_LIMIT_S) is not None:
        pass  # drain the output until the launcher closes it
    assert stack.process.wait(CLI_LIMIT_S) == 0, stack.log()
    for name, pid in stack.pids.items():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert any(re.search(rf"\| {name} exited with code 0$", line) for line in stack.output), \
            stack.log()
