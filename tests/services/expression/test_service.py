"""The expression service over real gRPC: 7 labels, every face in one call, batching, bad crops,
not installed, catalog."""
from __future__ import annotations

import asyncio

import grpc
import numpy as np
import pytest

from services.expression.app import ExpressionApp
from services.expression.handler import LABELS
from services.expression.settings import ExpressionSettings
from tests.services.face_attributes.support import astronaut_crop
from tests.support.servers import health_status, running
from xcloud import names
from xcloud.v1 import common_pb2, common_pb2_grpc, expression_pb2_grpc
from xcloud.v1 import expression_pb2 as ex


def settings(**overrides) -> ExpressionSettings:
    return ExpressionSettings(port=0, metrics_port=0, max_batch_size=8, **overrides)


@pytest.fixture(scope="module")
async def server(faceapi_models):
    config = settings(max_batch_delay_ms=100)
    async with running(ExpressionApp(config), config) as live:
        yield live


@pytest.fixture(scope="module")
async def stub(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield expression_pb2_grpc.ExpressionStub(channel)


def request_for(rgb: np.ndarray) -> ex.ExpressionRequest:
    height, width = rgb.shape[:2]
    return ex.ExpressionRequest(face=common_pb2.RawImage(
        width=width, height=height, rgb=np.ascontiguousarray(rgb).tobytes()))


async def test_seven_labels_in_model_order_with_the_top_one_named(stub):
    reply = await stub.Classify(request_for(astronaut_crop()), timeout=30)
    expression = reply.expression
    labels = [p.label for p in expression.probabilities]
    scores = [p.probability for p in expression.probabilities]
    assert labels == list(LABELS)
    assert sum(scores) == pytest.approx(1.0, abs=1e-4)
    assert expression.label == labels[int(np.argmax(scores))]
    assert expression.probability == pytest.approx(max(scores))
    assert expression.label == "happy"  # she smiles in skimage's portrait
    assert (reply.model.name, reply.model.version) == (names.FACEAPI_EXPRESSION, "1")


async def test_concurrent_calls_get_the_answers_of_single_calls(stub):
    crops = [astronaut_crop(side) for side in (224, 256, 288)]
    alone = [await stub.Classify(request_for(c), timeout=30) for c in crops]
    together = await asyncio.gather(*(stub.Classify(request_for(c), timeout=30) for c in crops))
    for one, other in zip(alone, together):
        ours = [p.probability for p in other.expression.probabilities]
        expected = [p.probability for p in one.expression.probabilities]
        assert ours == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("face, code, fragment", [
    (common_pb2.RawImage(width=224, height=200, rgb=bytes(224 * 200 * 3)), "INVALID_ARGUMENT",
     "square"),
    (common_pb2.RawImage(width=64, height=64, rgb=bytes(64 * 64 * 3)), "INVALID_ARGUMENT",
     "at least 112"),
    (common_pb2.RawImage(width=224, height=224, rgb=bytes(7)), "INVALID_ARGUMENT",
     "carries 7 bytes"),
    (common_pb2.RawImage(width=1100, height=1100, rgb=bytes(1100 * 1100 * 3)), "RESOURCE_EXHAUSTED",
     "limit"),
], ids=["not_square", "too_small", "short_bytes", "too_large"])
async def test_bad_crops_get_a_status_the_caller_can_act_on(server, stub, face, code, fragment):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Classify(ex.ExpressionRequest(face=face), timeout=30)
    assert raised.value.code().name == code
    assert fragment in raised.value.details()
    assert await health_status(server.address) == "SERVING"


async def test_list_models_reports_the_card(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = common_pb2_grpc.ModelRepositoryStub(channel)
        reply = await stub.ListModels(common_pb2.ListModelsRequest())
    (model,) = reply.models
    expected = (names.FACEAPI_EXPRESSION, True, "MIT")
    assert (model.model.name, model.installed, model.license) == expected


async def test_a_model_not_installed_answers_failed_precondition(faceapi_models):
    config = settings(model="expression_not_built")
    async with running(ExpressionApp(config), config) as live:
        async with grpc.aio.insecure_channel(live.address) as channel:
            stub = expression_pb2_grpc.ExpressionStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.Classify(request_for(astronaut_crop()), timeout=30)
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "expression_not_built is not installed" in raised.value.details()
        assert await health_status(live.address) == "SERVING"


async def test_every_face_in_one_call_answers_as_one_call_per_face(stub):
    crop = astronaut_crop()
    faces = [crop, np.ascontiguousarray(crop[:, ::-1]), (crop * 0.4).astype(np.uint8)]
    alone = [await stub.Classify(request_for(f), timeout=30) for f in faces]
    batched = await stub.Classify(
        ex.ExpressionRequest(faces=[request_for(f).face for f in faces]), timeout=30)
    assert not batched.HasField("expression") and len(batched.results) == 3
    for one, other in zip(alone, batched.results):
        assert other.label == one.expression.label
        # relative: she is so plainly happy that the other six are tiny, and they tell faces apart
        assert [p.probability for p in other.probabilities] == pytest.approx(
            [p.probability for p in one.expression.probabilities], rel=1e-3, abs=1e-9)
    neutral = [r.probabilities[0].probability for r in batched.results]
    assert len(set(np.round(np.log(neutral), 1))) == 3, neutral  # distinct faces: order is checked
    assert batched.model == alone[0].model


async def test_too_many_faces_are_refused_before_any_crop_is_read(faceapi_models):
    config = settings(max_faces_per_call=2)
    garbage = common_pb2.RawImage(width=224, height=224, rgb=b"short")  # never decoded
    async with running(ExpressionApp(config), config) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        stub = expression_pb2_grpc.ExpressionStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Classify(ex.ExpressionRequest(faces=[garbage] * 3), timeout=30)
        two = await stub.Classify(ex.ExpressionRequest(
            faces=[request_for(astronaut_crop()).face] * 2), timeout=30)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "3 faces in one call; at most 2 (XCLOUD_EXPRESSION_MAX_FACES_PER_CALL)" in \
        raised.value.details()
    assert len(two.results) == 2 and two.results[0].label == "happy"
