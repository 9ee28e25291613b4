"""The content-quality service over real gRPC: batch scoring, parity with the ONNX and torch
models on real records, field validation, batch limits, health, catalogue and metrics."""
from __future__ import annotations

import asyncio
import math
import tracemalloc
import urllib.request

import grpc
import numpy as np
import pytest

from models.text_quality.dataset import load_split, records
from models.text_quality.export import MTBDNN, load_trained
from models.text_quality.training import predict
from services.runtime.repository import ModelRepository
from services.runtime.session import LoadedModel
from services.text_quality.app import TextQualityApp
from services.text_quality.converters import record_to_proto
from services.text_quality.fields import CEILING, FIELD_NAMES, FIELDS
from services.text_quality.settings import TextQualitySettings
from tests.services.text_quality.conftest import EXAMPLE
from tests.support.servers import health_status, running
from xcloud.v1 import common_pb2, common_pb2_grpc, text_quality_pb2, text_quality_pb2_grpc

MAX_RECORDS = 1024
INTEGER_FIELDS = [f for f in FIELDS if not isinstance(EXAMPLE[f.name], bool)]
CODES = [f for f in INTEGER_FIELDS if f.high < CEILING]


@pytest.fixture(scope="module")
async def server(text_quality_model):
    settings = TextQualitySettings(port=0, metrics_port=0, max_records=MAX_RECORDS)
    async with running(TextQualityApp(settings), settings) as live:
        yield live


@pytest.fixture(scope="module")
async def stub(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield text_quality_pb2_grpc.TextQualityStub(channel)


def score_request(*records: dict) -> text_quality_pb2.ScoreRequest:
    return text_quality_pb2.ScoreRequest(records=[record_to_proto(r) for r in records])


async def scores_of(stub, records: list[dict]) -> np.ndarray:
    reply = await stub.Score(score_request(*records), timeout=30)
    assert reply.model.name == MTBDNN and reply.model.version == "1"
    return np.array([s.review_score for s in reply.scores], np.float32)


async def invalid_details(stub, *records: dict) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Score(score_request(*records), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return raised.value.details()


def test_the_proto_record_has_the_model_fields_in_model_order():
    assert tuple(f.name for f in text_quality_pb2.ContentRecord.DESCRIPTOR.fields) == FIELD_NAMES


async def test_a_batch_is_scored_in_request_order(stub):
    popular = {**EXAMPLE, "liked_num": 5000, "seats_taken": 20000, "review_count": 900}
    batch = await scores_of(stub, [EXAMPLE, popular, EXAMPLE])
    assert batch.shape == (3,) and np.all((batch >= 0) & (batch <= 5))
    assert batch[0] == batch[2] != batch[1]
    alone = await scores_of(stub, [popular])
    assert abs(alone[0] - batch[1]) < 1e-6


async def test_concurrent_calls_share_batches_without_mixing_answers(stub):
    varied = [{**EXAMPLE, "review_count": 11 + 7 * i, "liked_num": 13 * i} for i in range(24)]
    together = await scores_of(stub, varied)
    apart = await asyncio.gather(*(scores_of(stub, [r]) for r in varied))
    np.testing.assert_allclose(np.concatenate(apart), together, atol=1e-6)


async def test_served_scores_equal_the_onnx_and_torch_models_on_real_records(
        stub, text_quality_model, zhihu_live):
    features = load_split(zhihu_live).x_test[:300]
    served = await scores_of(stub, records(features))
    card = ModelRepository(text_quality_model).get(MTBDNN)
    (direct,) = LoadedModel(card, ["CPUExecutionProvider"]).run(features.astype(np.float32))
    net, _ = load_trained(MTBDNN)
    np.testing.assert_allclose(served, direct, atol=1e-5, rtol=0)
    np.testing.assert_allclose(served, predict(net, features)[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("field", FIELD_NAMES)
async def test_each_missing_field_is_named_with_its_record(stub, field):
    incomplete = {k: v for k, v in EXAMPLE.items() if k != field}
    details = await invalid_details(stub, EXAMPLE, incomplete)
    assert f"record 1: {field} is missing" in details


@pytest.mark.parametrize("spec", INTEGER_FIELDS, ids=lambda f: f.name)
async def test_each_value_below_its_range_is_named_with_its_record(stub, spec):
    details = await invalid_details(stub, EXAMPLE, EXAMPLE, {**EXAMPLE, spec.name: spec.low - 1})
    assert f"record 2: {spec.name} = {spec.low - 1:g} is outside [{spec.low:g}, " in details


@pytest.mark.parametrize("spec", CODES, ids=lambda f: f.name)
async def test_each_code_above_its_range_is_named_with_its_record(stub, spec):
    details = await invalid_details(stub, {**EXAMPLE, spec.name: spec.high + 1})
    assert f"record 0: {spec.name} = {spec.high + 1:g} is outside" in details


@pytest.mark.parametrize("value", [math.nan, math.inf, -0.5, 2e9])
async def test_prices_must_be_finite_and_in_range(stub, value):
    details = await invalid_details(stub, {**EXAMPLE, "original_price": value})
    assert "record 0: original_price" in details and "(yuan)" in details


async def test_too_few_reviews_says_what_the_model_covers(stub):
    details = await invalid_details(stub, {**EXAMPLE, "review_count": 4})
    assert "at least 11 reviews" in details


async def test_many_problems_are_listed_then_counted(stub):
    details = await invalid_details(stub, *[{}] * 2)
    assert details.count("is missing") == 10 and "and 36 more" in details


async def test_an_empty_request_is_invalid(stub):
    assert "at least one ContentRecord" in await invalid_details(stub)


async def test_a_batch_over_the_limit_is_resource_exhausted(stub):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Score(score_request(*[EXAMPLE] * (MAX_RECORDS + 1)), timeout=30)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"at most {MAX_RECORDS}" in raised.value.details()
    full = await scores_of(stub, [EXAMPLE] * MAX_RECORDS)
    assert full.shape == (MAX_RECORDS,)


async def test_the_server_stays_healthy_after_bad_input(server, stub):
    await invalid_details(stub, {**EXAMPLE, "badge": 9})
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Score(score_request(*[EXAMPLE] * (MAX_RECORDS + 1)), timeout=30)
    assert await health_status(server.address) == "SERVING"
    assert await health_status(server.address, "xcloud.v1.TextQuality") == "SERVING"
    assert len(await scores_of(stub, [EXAMPLE])) == 1


async def test_list_models_reports_the_card(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        reply = await common_pb2_grpc.ModelRepositoryStub(channel).ListModels(
            common_pb2.ListModelsRequest())
    (model,) = reply.models
    assert model.model.name == MTBDNN and model.installed and model.service == "text_quality"
    assert "non-commercial" in model.license and "MTB-DNN" in model.summary
    assert 0 < model.metrics["training.test_mae_mean"] < 0.3


async def test_metrics_count_scores_and_refusals(server, stub):
    await scores_of(stub, [EXAMPLE])
    await invalid_details(stub, {})
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with await asyncio.to_thread(urllib.request.urlopen, url, timeout=5) as page:
        text = page.read().decode()
    assert f'xcloud_inference_seconds_count{{model="{MTBDNN}",version="1"}}' in text
    assert f'xcloud_preprocess_seconds_count{{model="{MTBDNN}",version="1"}}' in text
    assert ('xcloud_grpc_requests_total{code="INVALID_ARGUMENT",method="Score",'
            'service="text_quality"}') in text


async def test_an_oversized_batch_is_refused_before_its_records_are_converted(stub):
    """50,000 empty records: converted to dicts first they are ~60 MB of Python objects."""
    request = text_quality_pb2.ScoreRequest(
        records=[text_quality_pb2.ContentRecord() for _ in range(50_000)])
    tracemalloc.start()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Score(request, timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "50000 records" in raised.value.details()
    assert peak < 8 * 1024 * 1024, f"{peak / 1e6:.1f} MB of Python objects for a refused call"
