"""The chart with tracing on: every process gets the collector as its OTLP_ENDPOINT setting, a
real setting that its settings class accepts; off by default (no exporter anywhere)."""
from __future__ import annotations

from tests.deploy.test_chart import ALL_SERVICES
from tests.deploy.tools import by_kind, render_objects
from xcloud.settings_doc import SETTINGS, load

ENDPOINT = "http://otel-collector.observability:4317"
PROCESSES = ("gateway", *ALL_SERVICES)


def _configs(values: dict | None) -> dict[str, dict[str, str]]:
    configs = by_kind(render_objects(values), "ConfigMap")
    return {name: configs[name.replace("_", "-")]["data"] for name in PROCESSES
            if name.replace("_", "-") in configs}


def test_every_process_exports_to_the_configured_collector():
    values = {"tracing": {"otlpEndpoint": ENDPOINT},
              "services": {name: {"enabled": True} for name in ALL_SERVICES}}
    configs = _configs(values)
    assert set(configs) == set(PROCESSES)
    for name, data in configs.items():
        key = f"XCLOUD_{name.upper()}_OTLP_ENDPOINT"
        assert data[key] == ENDPOINT
        settings = load(dict(SETTINGS)[name]).model_validate({"otlp_endpoint": data[key]})
        assert settings.otlp_endpoint == ENDPOINT


def test_tracing_is_off_by_default():
    for data in _configs(None).values():
        assert not any(key.endswith("_OTLP_ENDPOINT") for key in data)
