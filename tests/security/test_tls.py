"""TLS on a server's port, and mutual TLS where only the gateway's certificate may call
(a CA generated in the test)."""
from __future__ import annotations

import grpc
import pytest

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.runtime.tls import server_credentials
from services.text_quality.app import TextQualityApp
from services.text_quality.settings import TextQualitySettings
from tests.security.certs import TestCA
from tests.services.text_quality.conftest import EXAMPLE
from tests.support.servers import running
from xcloud.v1 import gateway_pb2, gateway_pb2_grpc, text_quality_pb2, text_quality_pb2_grpc

pytestmark = pytest.mark.security


@pytest.fixture
def ca(tmp_path):
    return TestCA(tmp_path)


async def test_the_gateway_port_speaks_tls_only(ca):
    server = ca.issue("xcloud-gateway")
    settings = GatewaySettings(port=0, metrics_port=None, backends={},
                               tls_cert_file=server.cert, tls_key_file=server.key)
    async with running(GatewayApp(settings), settings) as gateway:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca.pem)
        async with grpc.aio.secure_channel(gateway.address, credentials) as channel:
            listed = await gateway_pb2_grpc.GatewayStub(channel).ListBackends(
                gateway_pb2.ListBackendsRequest(), timeout=10)
        assert list(listed.backends) == []
        async with grpc.aio.insecure_channel(gateway.address) as plain:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await gateway_pb2_grpc.GatewayStub(plain).ListBackends(
                    gateway_pb2.ListBackendsRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def score_as(address: str, ca: TestCA, client) -> grpc.StatusCode:
    """The status of one Score call presenting ``client`` (None: no certificate)."""
    pair = client.pair() if client is not None else (None, None)
    credentials = grpc.ssl_channel_credentials(ca.pem, *pair)
    request = text_quality_pb2.ScoreRequest(records=[text_quality_pb2.ContentRecord(**EXAMPLE)])
    async with grpc.aio.secure_channel(address, credentials) as channel:
        try:
            await text_quality_pb2_grpc.TextQualityStub(channel).Score(request, timeout=10)
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


async def test_a_service_accepts_only_the_gateways_certificate(ca, tmp_path, text_quality_model):
    server, gateway = ca.issue("text-quality"), ca.issue("xcloud-gateway")
    intruder = ca.issue("intruder")  # same CA, another name
    (tmp_path / "other").mkdir()
    stranger = TestCA(tmp_path / "other", "other CA").issue("xcloud-gateway")
    settings = TextQualitySettings(port=0, metrics_port=None, tls_cert_file=server.cert,
                                   tls_key_file=server.key, tls_client_ca_file=ca.issued.cert,
                                   tls_client_names=["xcloud-gateway"])
    async with running(TextQualityApp(settings), settings) as service:
        assert await score_as(service.address, ca, gateway) == grpc.StatusCode.OK
        assert await score_as(service.address, ca, intruder) == grpc.StatusCode.PERMISSION_DENIED
        assert await score_as(service.address, ca, None) == grpc.StatusCode.UNAVAILABLE
        assert await score_as(service.address, ca, stranger) == grpc.StatusCode.UNAVAILABLE


def test_half_configured_tls_is_refused_at_start(ca):
    leaf = ca.issue("x")
    with pytest.raises(ValueError, match="both tls_cert_file and tls_key_file"):
        server_credentials(TextQualitySettings(tls_cert_file=leaf.cert))
    with pytest.raises(ValueError, match="mutual TLS is TLS first"):
        server_credentials(TextQualitySettings(tls_client_ca_file=ca.issued.cert))


async def _score_through(gateway_settings: GatewaySettings) -> gateway_pb2.ScoreContentResponse:
    async with running(GatewayApp(gateway_settings), gateway_settings) as gateway, \
            grpc.aio.insecure_channel(gateway.address) as channel:
        request = gateway_pb2.ScoreContentRequest(
            records=[text_quality_pb2.ContentRecord(**EXAMPLE)], no_cache=True)
        return await gateway_pb2_grpc.GatewayStub(channel).ScoreContent(request, timeout=20)


async def test_the_gateway_calls_services_over_mutual_tls(ca, text_quality_model):
    server, client = ca.issue("text-quality"), ca.issue("xcloud-gateway")
    service_settings = TextQualitySettings(
        port=0, metrics_port=None, tls_cert_file=server.cert, tls_key_file=server.key,
        tls_client_ca_file=ca.issued.cert, tls_client_names=["xcloud-gateway"])
    async with running(TextQualityApp(service_settings), service_settings) as service:
        backends = {"text_quality": BackendSettings(address=service.address)}
        mutual = GatewaySettings(
            port=0, metrics_port=None, backends=backends, backend_tls_ca_file=ca.issued.cert,
            backend_tls_cert_file=client.cert, backend_tls_key_file=client.key,
            backend_tls_server_name="text-quality")  # checked against the certificate's name
        answered = await _score_through(mutual)
        assert answered.status.code == grpc.StatusCode.OK.value[0]
        assert len(answered.scores) == 1
        # TLS without the gateway's certificate: the service refuses the handshake
        anonymous = GatewaySettings(port=0, metrics_port=None, backends=backends, retries=0,
                                    backend_tls_ca_file=ca.issued.cert)
        refused = await _score_through(anonymous)
        assert refused.status.code == grpc.StatusCode.UNAVAILABLE.value[0]


def test_a_half_configured_backend_certificate_stops_the_gateway(ca):
    leaf = ca.issue("xcloud-gateway")
    with pytest.raises(ValueError, match="both the client certificate and its key"):
        GatewayApp(GatewaySettings(port=0, metrics_port=None, backends={},
                                   backend_tls_ca_file=ca.issued.cert,
                                   backend_tls_cert_file=leaf.cert))
    with pytest.raises(ValueError, match="mutual TLS is TLS first"):
        GatewayApp(GatewaySettings(port=0, metrics_port=None, backends={},
                                   backend_tls_cert_file=leaf.cert, backend_tls_key_file=leaf.key))
