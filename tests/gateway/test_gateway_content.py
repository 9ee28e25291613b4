"""ScoreContent through the gateway against the real content-quality service."""
from __future__ import annotations

import contextlib

import grpc
import pytest

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.text_quality.app import TextQualityApp
from services.text_quality.settings import TextQualitySettings
from tests.services.text_quality.conftest import EXAMPLE
from tests.support.servers import running
from xcloud import names
from xcloud.v1 import gateway_pb2, gateway_pb2_grpc, text_quality_pb2

OK, UNAVAILABLE = 0, 14


@pytest.fixture(scope="module")
async def content_backend(text_quality_model):
    settings = TextQualitySettings(port=0, metrics_port=None)
    async with running(TextQualityApp(settings), settings) as live:
        yield live


@contextlib.asynccontextmanager
async def gateway_for(address: str):
    """A gateway whose only backend is the content-quality service at ``address``."""
    settings = GatewaySettings(port=0, metrics_port=None,
                               backends={"text_quality": BackendSettings(address=address)})
    async with running(GatewayApp(settings), settings) as gateway, \
            grpc.aio.insecure_channel(gateway.address) as channel:
        yield gateway_pb2_grpc.GatewayStub(channel)


def request(*records, no_cache: bool = False) -> gateway_pb2.ScoreContentRequest:
    return gateway_pb2.ScoreContentRequest(records=list(records), no_cache=no_cache)


async def test_scores_come_back_in_order_and_repeat_from_the_cache(content_backend):
    cheap = text_quality_pb2.ContentRecord(**{**EXAMPLE, "liked_num": 0, "seats_taken": 2})
    example = text_quality_pb2.ContentRecord(**EXAMPLE)
    async with gateway_for(content_backend.address) as stub:
        first = await stub.ScoreContent(request(example, cheap), timeout=30)
        again = await stub.ScoreContent(request(example, cheap), timeout=30)
        fresh = await stub.ScoreContent(request(example, cheap, no_cache=True), timeout=30)
    assert first.status.code == OK and not first.status.cached
    assert first.status.model.name == names.ZHIHU_MTBDNN and first.request_id
    assert len(first.scores) == 2 and all(0 <= s.review_score <= 5 for s in first.scores)
    assert first.scores[0].review_score != first.scores[1].review_score
    assert again.status.cached and list(again.scores) == list(first.scores)
    assert not fresh.status.cached


async def test_a_bad_record_fails_the_call_with_the_backends_message(content_backend):
    broken = text_quality_pb2.ContentRecord(**{k: v for k, v in EXAMPLE.items() if k != "gender"})
    async with gateway_for(content_backend.address) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ScoreContent(request(text_quality_pb2.ContentRecord(**EXAMPLE), broken),
                                    timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as empty:
            await stub.ScoreContent(request(), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "record 1" in raised.value.details() and "gender" in raised.value.details()
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_backend_that_is_down_yields_an_unavailable_status():
    async with gateway_for("127.0.0.1:1") as stub:
        reply = await stub.ScoreContent(request(text_quality_pb2.ContentRecord(**EXAMPLE)),
                                        timeout=30)
    assert reply.status.code == UNAVAILABLE and reply.status.task == "content_quality"
    assert not reply.scores


async def test_too_many_records_are_refused_by_the_gateway_itself():
    """Refused before digest or forwarding: even with the backend down, the caller learns
    the limit (before, 50,000 records were digested on the event loop, then sent)."""
    many = [text_quality_pb2.ContentRecord(duration=i) for i in range(50_000)]
    async with gateway_for("127.0.0.1:1") as stub:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ScoreContent(request(*many), timeout=30)
        at_limit = await stub.ScoreContent(request(*many[:1024]), timeout=30)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "50000 records" in raised.value.details() and "at most 1024" in raised.value.details()
    assert at_limit.status.code == UNAVAILABLE  # the limit itself is accepted
