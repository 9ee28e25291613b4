"""docker-compose.tls.yml, the mutual-TLS overlay: valid with the base file, every setting it
sets is a real one, and its settings with the certificates `python -m xcloud.devcerts` writes
really connect: a gateway and a service started exactly so (in-process, loopback) answer over
mutual TLS, and the container health check passes over TLS with the process's own folder."""
from __future__ import annotations

import asyncio

import grpc
import pytest
import yaml

from deploy.docker import healthcheck
from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.text_quality.app import TextQualityApp
from services.text_quality.settings import TextQualitySettings
from tests.conftest import REPO_ROOT
from tests.deploy.test_compose import COMPOSE, processes
from tests.deploy.tools import run_tool, tool
from tests.services.text_quality.conftest import EXAMPLE
from tests.support.servers import running
from xcloud.devcerts import write_stack_certificates
from xcloud.settings_doc import SETTINGS, load
from xcloud.v1 import gateway_pb2, gateway_pb2_grpc, text_quality_pb2

pytestmark = pytest.mark.security
OVERLAY = REPO_ROOT / "docker-compose.tls.yml"
MOUNT = "/etc/xcloud/tls"


def overlay() -> dict:
    return yaml.safe_load(OVERLAY.read_text())["services"]


def settings_of(process: str) -> set[str]:
    """The names of the settings the overlay gives ``process`` (prefix dropped, lower case)."""
    prefix = f"XCLOUD_{process.upper()}_"
    return {key.removeprefix(prefix).lower() for key in overlay()[process]["environment"]
            if key.startswith(prefix)}


def use_overlay_environment(monkeypatch, process: str, folder) -> None:
    """The overlay's environment of ``process``, its mount replaced by ``folder``."""
    for key, value in overlay()[process]["environment"].items():
        monkeypatch.setenv(key, value.replace(MOUNT, str(folder)))


def test_docker_compose_accepts_the_overlay():
    docker_compose = tool("docker-compose", "docker-compose")
    result = run_tool(docker_compose, "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE),
                      "-f", str(OVERLAY), "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_every_process_is_covered_and_every_setting_is_real():
    assert set(overlay()) == set(processes())
    for process in overlay():
        fields = load(dict(SETTINGS)[process]).model_fields
        assert settings_of(process) <= set(fields), process


async def test_the_overlay_settings_and_dev_certificates_connect(tmp_path, text_quality_model,
                                                                 monkeypatch):
    write_stack_certificates(tmp_path)
    use_overlay_environment(monkeypatch, "text_quality", tmp_path / "text_quality")
    use_overlay_environment(monkeypatch, "gateway", tmp_path / "gateway")
    service_settings = TextQualitySettings(port=0, metrics_port=None)
    async with running(TextQualityApp(service_settings), service_settings) as service:
        gateway_settings = GatewaySettings(port=0, metrics_port=None, backends={
            "text_quality": BackendSettings(address=service.address)})
        async with running(GatewayApp(gateway_settings), gateway_settings) as gateway:
            ca = (tmp_path / "gateway" / "ca.crt").read_bytes()
            async with grpc.aio.secure_channel(gateway.address,
                                               grpc.ssl_channel_credentials(ca)) as channel:
                reply = await gateway_pb2_grpc.GatewayStub(channel).ScoreContent(
                    gateway_pb2.ScoreContentRequest(
                        records=[text_quality_pb2.ContentRecord(**EXAMPLE)], no_cache=True),
                    timeout=20)
        assert reply.status.code == grpc.StatusCode.OK.value[0]
        use_overlay_environment(monkeypatch, "text_quality", tmp_path / "text_quality")
        monkeypatch.setenv("XCLOUD_HEALTH_PORT", str(service.port))
        assert await asyncio.to_thread(healthcheck.main) == 0
        monkeypatch.delenv("XCLOUD_HEALTH_TLS_DIR")  # plaintext cannot reach a TLS port
        assert await asyncio.to_thread(healthcheck.main) == 1
