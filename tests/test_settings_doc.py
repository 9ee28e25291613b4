"""docs/configuration.md lists every setting of every process as the code defines it."""
from __future__ import annotations

from pathlib import Path

from gateway.settings import GatewaySettings
from services.runtime.settings import ServerSettings, ServiceSettings
from xcloud.settings_doc import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_configuration_doc_is_current():
    assert DOC.read_text() == render(), (
        "run `python -m xcloud.settings_doc > docs/configuration.md`")


def test_every_setting_is_described():
    undocumented = [line for line in render().splitlines()
                    if line.startswith("| `") and line.endswith("|  |")]
    assert not undocumented, undocumented


def test_the_gateway_takes_no_model_serving_setting():
    """It serves no model: providers, batching, the repository... would be documented (and
    accepted) as settings that do nothing."""
    model_serving = set(ServiceSettings.model_fields) - set(ServerSettings.model_fields)
    assert len(model_serving) == 9 and not model_serving & set(GatewaySettings.model_fields)
    assert "XCLOUD_GATEWAY_PROVIDERS" not in render()
