"""The Gateway service around Analyze: auth, ListModels, ListBackends, settings, registry."""
from __future__ import annotations

import grpc
import pytest

from gateway.cache import MemoryStore, cache_key
from gateway.settings import GatewaySettings
from gateway.tasks import DETECTION, Scope, TaskSpec, default_registry, into_field, unary
from tests.gateway.helpers import free_port
from tests.gateway.loopback_backends import CountingDetectionBackend, CropScoringBackend
from xcloud.v1 import common_pb2, gateway_pb2


async def test_api_keys_are_required_when_configured(start_backend, start_gateway):
    address = await start_backend(CountingDetectionBackend())
    gateway = await start_gateway({"face_detection": address},
                                  api_keys=["s3cret", "other"])
    for metadata in ([], [("authorization", "Bearer wrong")], [("x-api-key", "")]):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await gateway.analyze(metadata=metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.stub.ListBackends(gateway_pb2.ListBackendsRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    for metadata in ([("authorization", "Bearer s3cret")], [("x-api-key", "other")]):
        response = await gateway.analyze(metadata=metadata)
        assert response.statuses[0].code == common_pb2.STATUS_CODE_OK


async def test_no_api_keys_means_no_auth(start_backend, start_gateway):
    address = await start_backend(CountingDetectionBackend())
    gateway = await start_gateway({"face_detection": address})
    response = await gateway.stub.ListBackends(gateway_pb2.ListBackendsRequest())
    assert [b.name for b in response.backends] == ["face_detection"]


async def test_list_models_merges_backends_and_leaves_out_those_down(start_backend, start_gateway):
    gateway = await start_gateway({
        "face_detection": await start_backend(CountingDetectionBackend()),
        "crop_scorer": await start_backend(CropScoringBackend()),
        "gone": f"127.0.0.1:{free_port()}",
    })
    response = await gateway.stub.ListModels(common_pb2.ListModelsRequest(), timeout=10)
    assert sorted(m.model.name for m in response.models) == ["loopback_detector", "loopback_scorer"]
    assert all(m.installed and m.model.version == "1" for m in response.models)


async def test_list_backends_reports_addresses_and_tasks(start_backend, start_gateway):
    detector = await start_backend(CountingDetectionBackend())
    gateway = await start_gateway({"face_detection": detector, "crop_scorer": "dns:///scorer:1"},
                                  metrics_url="http://gateway:9151/metrics")
    response = await gateway.stub.ListBackends(gateway_pb2.ListBackendsRequest())
    listed = {b.name: (b.address, list(b.tasks)) for b in response.backends}
    assert listed == {"face_detection": (detector, ["detection"]),
                      "crop_scorer": ("dns:///scorer:1", [])}
    assert response.metrics_url == "http://gateway:9151/metrics"


def test_settings_read_nested_backends_from_the_environment(monkeypatch):
    monkeypatch.setenv("XCLOUD_GATEWAY_BACKENDS__FACE_DETECTION__ADDRESS",
                       "dns:///face-detection.xcloud.svc.cluster.local:50052")
    monkeypatch.setenv("XCLOUD_GATEWAY_REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("XCLOUD_GATEWAY_API_KEYS", '["k1"]')
    settings = GatewaySettings()
    assert settings.backends["face_detection"].address.startswith("dns:///face-detection")
    assert settings.redis_url == "redis://redis:6379/0" and settings.api_keys == ["k1"]
    assert (settings.port, settings.metrics_port) == (50051, 9151)


def test_defaults_reach_the_local_detection_service(monkeypatch):
    for name in ("BACKENDS__FACE_DETECTION__ADDRESS", "REDIS_URL", "API_KEYS"):
        monkeypatch.delenv(f"XCLOUD_GATEWAY_{name}", raising=False)
    settings = GatewaySettings()
    assert settings.backends["face_detection"].address == "127.0.0.1:50052"
    assert settings.redis_url is None and settings.own_metrics_url().endswith(":9151/metrics")


def test_a_metrics_port_picked_at_bind_time_is_not_reported_as_port_0():
    assert GatewaySettings(metrics_port=0).own_metrics_url() == ""
    assert GatewaySettings(metrics_port=0, metrics_url="http://gw:1/metrics").own_metrics_url() \
        == "http://gw:1/metrics"


def test_registry_rejects_incomplete_or_duplicate_tasks():
    call = unary("/x.Y/Z", lambda payload, options: payload, common_pb2.Face)
    with pytest.raises(ValueError, match="aligned_size"):
        TaskSpec("bad", "b", Scope.PER_FACE, call=call, merge=into_field("face"))
    with pytest.raises(ValueError, match="merged"):
        TaskSpec("bad", "b", Scope.WHOLE_IMAGE, call=call)
    registry = default_registry()
    with pytest.raises(ValueError, match="already"):
        registry.register(DETECTION)
    extra = TaskSpec("extra", "b", Scope.WHOLE_IMAGE, call=call, merge=into_field("face"))
    registry.register(extra)
    assert "extra" not in default_registry().names()  # registering elsewhere leaks nowhere
    assert default_registry().names()[0] == "detection"


async def test_memory_store_evicts_least_recently_used_and_expired():
    store = MemoryStore(max_entries=2)
    await store.set("a", b"1", 60)
    await store.set("b", b"2", 60)
    assert await store.get("a") == b"1"  # a is now the most recent
    await store.set("c", b"3", 60)
    assert await store.get("b") is None and await store.get("a") == b"1"
    await store.set("d", b"4", 0)
    assert await store.get("d") is None


def test_cache_keys_separate_every_part():
    digest = b"\x01" * 32
    keys = {
        cache_key("detection", digest, "m@1", b"opts"),
        cache_key("detection", digest, "m@2", b"opts"),
        cache_key("detection", digest, "m@1", b"other"),
        cache_key("detection", b"\x02" * 32, "m@1", b"opts"),
        cache_key("detection", digest, "m@1o", b"pts"),
    }
    assert len(keys) == 5
