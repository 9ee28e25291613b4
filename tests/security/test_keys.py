"""API keys: stored only as digests, bound to tenants, rate-limited per key; the start-up
warning when keys are off on a reachable address."""
from __future__ import annotations

import hashlib
import logging

import grpc
import pytest

from gateway.auth import RETRY_AFTER_KEY, ApiKeys, _Bucket
from gateway.settings import GatewaySettings
from services.runtime.settings import ServiceSettings
from tests.gateway.loopback_backends import CountingDetectionBackend
from tests.support.servers import running
from xcloud.v1 import gateway_pb2, text_quality_pb2

pytestmark = pytest.mark.security
ACME_KEY, OTHER_KEY = "acme-key-7f3a", "legacy-key-91c2"
SERVICE, METHOD = "xcloud.test.Scoped", "/xcloud.test.Scoped/Call"


def key_file(tmp_path, *lines: str):
    path = tmp_path / "keys"
    path.write_text("# sha256(key) tenant\n" + "\n".join(lines) + "\n")
    return path


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def test_the_gateway_accepts_keys_known_only_by_their_digest(tmp_path, start_backend,
                                                                   start_gateway):
    path = key_file(tmp_path, f"{digest(ACME_KEY)} acme")
    gateway = await start_gateway({"face_detection": await start_backend(
        CountingDetectionBackend())}, api_key_file=path)
    assert ACME_KEY not in repr(gateway.app.settings.model_dump())  # nothing holds the key
    listed = await gateway.stub.ListBackends(gateway_pb2.ListBackendsRequest(),
                                             metadata=(("x-api-key", ACME_KEY),))
    assert [b.name for b in listed.backends] == ["face_detection"]
    for wrong in (digest(ACME_KEY), ACME_KEY + "x"):  # the digest itself is no key
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await gateway.stub.ListBackends(gateway_pb2.ListBackendsRequest(),
                                            metadata=(("x-api-key", wrong),))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_malformed_key_file_line_is_named(tmp_path):
    path = key_file(tmp_path, f"{digest(ACME_KEY)} acme", ACME_KEY)  # a plain key: refused
    with pytest.raises(ValueError, match=r"keys:3: expected '<64 hex digits"):
        GatewaySettings(api_key_file=path)


class ScopedApp:
    """One tenant-scoped RPC guarded by ``ApiKeys`` as the gateway's gallery calls are."""

    name = "scoped"
    service_names = (SERVICE,)

    def __init__(self, keys: ApiKeys):
        self.keys = keys

    def register(self, server: grpc.aio.Server) -> None:
        async def call(request, context):
            self.keys.check(context)
            tenant = self.keys.scoped_tenant(context)  # its length comes back, as a record
            return text_quality_pb2.ScoreRequest(
                records=[text_quality_pb2.ContentRecord(duration=len(tenant))])

        handler = grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=text_quality_pb2.ScoreRequest.FromString,
            response_serializer=text_quality_pb2.ScoreRequest.SerializeToString)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            SERVICE, {"Call": handler}),))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


async def call_scoped(keys: ApiKeys, *metadata_sets):
    """Every metadata set's result: the response, or the AioRpcError."""
    settings = ServiceSettings(port=0, metrics_port=None)
    async with running(ScopedApp(keys), settings) as server, \
            grpc.aio.insecure_channel(server.address) as channel:
        call = channel.unary_unary(METHOD,
                                   request_serializer=text_quality_pb2.ScoreRequest
                                   .SerializeToString,
                                   response_deserializer=text_quality_pb2.ScoreRequest.FromString)
        results = []
        for metadata in metadata_sets:
            try:
                results.append(await call(text_quality_pb2.ScoreRequest(), metadata=metadata,
                                          timeout=10))
            except grpc.aio.AioRpcError as error:
                results.append(error)
        return results


async def test_a_key_bound_to_no_tenant_is_refused_for_tenant_scoped_calls(tmp_path):
    settings = GatewaySettings(api_key_file=key_file(tmp_path, f"{digest(ACME_KEY)} acme"),
                               api_keys=[OTHER_KEY])
    acme, other = await call_scoped(ApiKeys.from_settings(settings),
                                    (("x-api-key", ACME_KEY),), (("x-api-key", OTHER_KEY),))
    assert acme.records[0].duration == len("acme")
    assert other.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "bound to no tenant" in other.details()


async def test_each_key_is_rate_limited_with_retry_info(tmp_path):
    path = key_file(tmp_path, f"{digest(ACME_KEY)} acme", f"{digest(OTHER_KEY)} other")
    settings = GatewaySettings(api_key_file=path, api_rate_per_key=0.5, api_burst_per_key=2)
    acme = (("x-api-key", ACME_KEY),)
    results = await call_scoped(ApiKeys.from_settings(settings), acme, acme, acme,
                                (("x-api-key", OTHER_KEY),))
    assert [isinstance(r, grpc.aio.AioRpcError) for r in results] == [False, False, True, False]
    limited = results[2]
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "rate limit" in limited.details()
    retry_ms = dict(limited.trailing_metadata())[RETRY_AFTER_KEY]
    assert 1 <= int(retry_ms) <= 2000


@pytest.mark.parametrize("host, keys, warned", [
    ("0.0.0.0", [], True), ("10.1.2.3", [], True), ("127.0.0.1", [], False),
    ("0.0.0.0", ["k"], False),
])
def test_keys_off_on_a_reachable_address_is_a_loud_warning(caplog, host, keys, warned):
    caplog.set_level(logging.WARNING, logger="gateway.settings")
    GatewaySettings(host=host, api_keys=keys)
    assert any("API keys are OFF" in r.getMessage() for r in caplog.records) == warned


def test_rate_buckets_refill_with_time():
    bucket = _Bucket(tokens=1, at=0.0)
    assert bucket.take(rate=2, burst=1, now=0.0) == 0
    assert bucket.take(rate=2, burst=1, now=0.0) == pytest.approx(0.5)
    assert bucket.take(rate=2, burst=1, now=0.5) == 0
