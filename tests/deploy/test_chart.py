"""The Helm chart, offline: rendered with default and CI values, linted, every object valid
against the Kubernetes schemas (strict: no unknown field), and the wiring checked object by
object (one template set for every service, GPU per service, network policies, probes)."""
from __future__ import annotations

import json

import pytest

from tests.deploy.tools import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    by_kind,
    ci_values,
    helm,
    render,
    render_objects,
    tls_values,
)

VALUE_SETS = {"default": None, "ci": ci_values()}
# linted and schema-checked too: TLS switches probes and mounts (test_chart_tls.py)
CHECKED_SETS = {**VALUE_SETS, "tls": tls_values()}
PER_PROCESS_KINDS = ("Deployment", "Service", "ConfigMap", "ServiceMonitor", "NetworkPolicy")
# Kinds from CRDs have no schema in kubernetes-validate; PrometheusRule's groups are checked
# with promtool (test_monitoring.py) and ServiceMonitors against their Services below.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
SUPPORT = {"redis", "monitoring"}  # components that are not XCloud processes
ALL_SERVICES = ("face_detection", "face_attributes", "expression", "fine_grained",
                "animal_identity", "text_quality")


@pytest.fixture(scope="module", params=list(VALUE_SETS))
def objects(request):
    return render_objects(VALUE_SETS[request.param])


@pytest.fixture(scope="module")
def ci_objects():
    return render_objects(VALUE_SETS["ci"])


@pytest.mark.parametrize("name", list(CHECKED_SETS))
def test_lint_finds_nothing_even_in_strict_mode(name):
    report = helm().lint(str(CHART), CHECKED_SETS[name], strict=True,
                         kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert problems == [], problems


@pytest.mark.parametrize("name", list(CHECKED_SETS))
def test_every_object_is_valid_for_kubernetes_strictly(name):
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate",
        reason="kubernetes-validate is not installed (pip install -e '.[dev]')",
    )
    for obj in render_objects(CHECKED_SETS[name]):
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")


def test_default_values_deploy_the_gateway_every_stateless_service_and_redis():
    """animal_identity is off by default: it needs the cluster's PostgreSQL (values.yaml)."""
    objects = render_objects()
    stateless = {s.replace("_", "-") for s in ALL_SERVICES} - {"animal-identity"}
    for kind in PER_PROCESS_KINDS:
        assert set(by_kind(objects, kind)) - SUPPORT == {"gateway", *stateless}, kind
    assert set(by_kind(objects, "StatefulSet")) == {"redis"}
    assert {o["kind"] for o in objects} >= {"HorizontalPodAutoscaler", "PodDisruptionBudget",
                                            "PrometheusRule"}


def test_every_enabled_service_gets_the_same_object_set(ci_objects):
    expected = {"gateway", *(s.replace("_", "-") for s in ALL_SERVICES)}
    for kind in PER_PROCESS_KINDS:
        assert set(by_kind(ci_objects, kind)) - SUPPORT == expected, kind
    # per-service switches: expression scales by hand, fine_grained has no PDB
    assert "expression" not in by_kind(ci_objects, "HorizontalPodAutoscaler")
    assert by_kind(ci_objects, "Deployment")["expression"]["spec"]["replicas"] == 3
    assert "fine-grained" not in by_kind(ci_objects, "PodDisruptionBudget")
    # external Redis: none in the chart
    assert not by_kind(ci_objects, "StatefulSet")


def test_gpu_is_switched_on_per_service(ci_objects):
    deployments = by_kind(ci_objects, "Deployment")
    gpu = deployments["face-attributes"]["spec"]["template"]["spec"]
    container = gpu["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["image"] == "registry.example.com/xcloud/face-attributes:1.2.3-gpu"
    assert gpu["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert gpu["tolerations"][0]["key"] == "nvidia.com/gpu"
    config = by_kind(ci_objects, "ConfigMap")["face-attributes"]["data"]
    assert json.loads(config["XCLOUD_FACE_ATTRIBUTES_PROVIDERS"])[0] == "CUDAExecutionProvider"

    cpu = deployments["face-detection"]["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in cpu["containers"][0]["resources"].get("limits", {})
    assert cpu["containers"][0]["image"].endswith("/face-detection:1.2.3")
    assert "nodeSelector" not in cpu
    config = by_kind(ci_objects, "ConfigMap")["face-detection"]["data"]
    assert "XCLOUD_FACE_DETECTION_PROVIDERS" not in config


def test_hpa_uses_cpu_and_the_optional_custom_metric(ci_objects):
    hpas = by_kind(ci_objects, "HorizontalPodAutoscaler")
    assert [m["type"] for m in hpas["face-detection"]["spec"]["metrics"]] == ["Resource"]
    (custom,) = hpas["face-attributes"]["spec"]["metrics"]
    assert custom["pods"]["metric"]["name"] == "xcloud_queue_depth"
    assert hpas["gateway"]["spec"]["minReplicas"] == 2


def test_processes_listen_on_all_interfaces_and_are_probed_through_grpc_health(objects):
    configs = by_kind(objects, "ConfigMap")
    for component, deployment in by_kind(objects, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": port}, (component, probe)
        prefix = "XCLOUD_" + component.replace("-", "_").upper() + "_"
        data = configs[component]["data"]
        assert data[prefix + "HOST"] == "0.0.0.0"
        assert data[prefix + "PORT"] == str(port)
        # SIGKILL comes only after the preStop pause and the runtime's whole drain
        pause = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert pod["terminationGracePeriodSeconds"] > pause + float(data[prefix + "DRAIN_SECONDS"])


def test_pods_run_unprivileged_on_a_read_only_root(objects):
    for kind in ("Deployment", "StatefulSet"):
        for component, workload in by_kind(objects, kind).items():
            pod = workload["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True, component
            for container in pod["containers"]:
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True, component
                assert context["allowPrivilegeEscalation"] is False, component


def test_gateway_gets_every_enabled_backend_through_its_headless_service(ci_objects):
    services = by_kind(ci_objects, "Service")
    assert all(s["spec"]["clusterIP"] == "None" for s in services.values())
    data = by_kind(ci_objects, "ConfigMap")["gateway"]["data"]
    backends = json.loads(data["XCLOUD_GATEWAY_BACKENDS"])
    assert set(backends) == set(ALL_SERVICES)
    address = backends["face_detection"]["address"]
    assert address == f"dns:///xc-xcloud-face-detection.{NAMESPACE}.svc.cluster.local:50052"
    assert services["face-detection"]["metadata"]["name"] == "xc-xcloud-face-detection"
    assert data["XCLOUD_GATEWAY_REDIS_URL"] == "redis://redis.cache.svc.cluster.local:6379/0"
    assert data["XCLOUD_GATEWAY_API_KEYS"] == '["ci-key"]'


def test_backends_and_redis_admit_only_the_gateway(objects):
    gateway_pods = by_kind(objects, "Deployment")["gateway"]["spec"]["selector"]["matchLabels"]
    policies = by_kind(objects, "NetworkPolicy")
    for component, policy in policies.items():
        grpc_rule = next(r for r in policy["spec"]["ingress"]
                         if r["ports"][0]["port"] in ("grpc", "redis"))
        if component == "gateway":
            continue
        assert grpc_rule["from"] == [{"podSelector": {"matchLabels": gateway_pods}}], component
    assert "redis" in policies or not by_kind(objects, "StatefulSet")


def test_service_monitors_select_a_service_with_a_metrics_port(objects):
    services = by_kind(objects, "Service")
    for component, monitor in by_kind(objects, "ServiceMonitor").items():
        service = services[component]
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        ports = {p["name"] for p in service["spec"]["ports"]}
        assert monitor["spec"]["endpoints"][0]["port"] in ports


def test_secret_settings_and_mounted_models_reach_the_container(ci_objects):
    pod = by_kind(ci_objects, "Deployment")["animal-identity"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (env,) = container["env"]
    assert env["name"] == "XCLOUD_ANIMAL_IDENTITY_GALLERY_URL"
    assert env["valueFrom"]["secretKeyRef"] == {"name": "xcloud-pgvector", "key": "url"}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "models")
    assert mount["mountPath"] == "/opt/xcloud/models/repository"
    volume = next(v for v in pod["volumes"] if v["name"] == "models")
    assert volume["persistentVolumeClaim"]["claimName"] == "xcloud-models"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]


def test_dashboards_ship_as_sidecar_config_maps_and_notes_say_how_to_call_the_gateway():
    rendered = render()
    (dashboard,) = [o for o in render_objects() if o["kind"] == "ConfigMap"
                    and o["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert json.loads(dashboard["data"]["xcloud.json"])["uid"] == "xcloud-overview"
    notes = rendered["xcloud/templates/NOTES.txt"]
    assert "port-forward" in notes and "xcloud analyze" in notes
    assert "dns:///xc-xcloud-gateway.ml.svc.cluster.local:50051" in notes
