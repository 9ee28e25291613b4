"""The chart with TLS on: the gateway's port from its Secret, mutual TLS between the gateway and
every service from each process's "<fullName>-tls" Secret, and exec probes on TLS ports (the
kubelet's gRPC probe speaks plaintext only). Rendered offline; every setting the chart sets
must be a real setting of the process it configures (the settings classes ignore unknown
names, so a typo would silently leave TLS off)."""
from __future__ import annotations

import json

import pytest

from tests.deploy.test_chart import ALL_SERVICES
from tests.deploy.tools import by_kind, render_objects, tls_values
from xcloud.settings_doc import SETTINGS, load

TLS_VALUES = tls_values()  # also linted and schema-checked by test_chart.py


@pytest.fixture(scope="module")
def tls_objects():
    return render_objects(TLS_VALUES)


def _container(deployment):
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_services_admit_only_the_gateways_certificate(tls_objects):
    configs = by_kind(tls_objects, "ConfigMap")
    for name in ALL_SERVICES:
        data = configs[name.replace("_", "-")]["data"]
        prefix = f"XCLOUD_{name.upper()}_"
        assert data[prefix + "TLS_CERT_FILE"] == "/etc/xcloud/tls/tls.crt"
        assert data[prefix + "TLS_CLIENT_CA_FILE"] == "/etc/xcloud/tls/ca.crt"
        assert json.loads(data[prefix + "TLS_CLIENT_NAMES"]) == ["xcloud-gateway"]
    gateway = configs["gateway"]["data"]
    assert gateway["XCLOUD_GATEWAY_BACKEND_TLS_CERT_FILE"] == "/etc/xcloud/tls/tls.crt"
    assert gateway["XCLOUD_GATEWAY_TLS_CERT_FILE"] == "/etc/xcloud/tls-port/tls.crt"


def test_every_setting_the_chart_sets_is_a_real_setting(tls_objects):
    for component, config in by_kind(tls_objects, "ConfigMap").items():
        name = component.replace("-", "_")
        if name not in ("gateway", *ALL_SERVICES):
            continue
        fields = load(dict(SETTINGS)[name]).model_fields
        prefix = f"XCLOUD_{name.upper()}_"
        unknown = [key for key in config["data"] if key.removeprefix(prefix).lower() not in fields]
        assert unknown == [], (component, unknown)


def test_each_process_mounts_its_own_secret_and_is_probed_over_tls(tls_objects):
    for component, deployment in by_kind(tls_objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert secrets["tls"] == f"xc-xcloud-{component}-tls"
        container = _container(deployment)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["exec"]["command"][-1].endswith("healthcheck.py")
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["XCLOUD_HEALTH_TLS_DIR"].startswith("/etc/xcloud/tls")
    gateway = by_kind(tls_objects, "Deployment")["gateway"]["spec"]["template"]["spec"]
    assert {"name": "tls-port", "secret": {"secretName": "xcloud-gateway-public"}} \
        in gateway["volumes"]
