"""The fine-grained service over real gRPC: whole images, boxes, per-request models, top-k,
bad input, models that are not installed, health, catalogue and metrics."""
from __future__ import annotations

import asyncio
import urllib.request

import grpc
import pytest

from services.fine_grained.app import FineGrainedApp
from services.fine_grained.settings import FineGrainedSettings
from tests.services.fine_grained.helpers import SERVED, jpeg
from tests.support.images import bad_image_cases
from tests.support.servers import health_status, running
from xcloud import names
from xcloud.v1 import common_pb2, common_pb2_grpc, fine_grained_pb2_grpc
from xcloud.v1 import fine_grained_pb2 as fg

CASES = bad_image_cases()
CATS = range(281, 286)
ESPRESSO = 967
MISSING = "not_built_mobilenet"


@pytest.fixture(scope="module")
async def server(fine_grained_models):
    settings = FineGrainedSettings(port=0, metrics_port=0, max_batch_size=2,
                                   max_image_bytes=2 * 1024 * 1024, models=[*SERVED, MISSING])
    async with running(FineGrainedApp(settings), settings) as live:
        yield live


@pytest.fixture(scope="module")
async def stub(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield fine_grained_pb2_grpc.FineGrainedStub(channel)


def request(content: bytes, box: tuple[float, ...] | None = None, **options):
    message = fg.FineGrainedClassifyRequest(image=common_pb2.Image(content=content), **options)
    if box is not None:
        message.box.CopyFrom(common_pb2.BoundingBox(
            x_min=box[0], y_min=box[1], x_max=box[2], y_max=box[3]))
    return message


async def test_whole_image_gets_top5_imagenet_labels(stub, cat_and_coffee):
    reply = await stub.Classify(request(jpeg(cat_and_coffee[:, :451])), timeout=30)
    assert reply.model.name == names.MOBILENET_V2_IMAGENET and reply.model.version == "1"
    assert len(reply.labels) == 5
    probabilities = [label.probability for label in reply.labels]
    assert probabilities == sorted(probabilities, reverse=True)
    assert reply.labels[0].index in CATS and "cat" in reply.labels[0].name


async def test_a_box_classifies_only_its_region(stub, cat_and_coffee):
    content = jpeg(cat_and_coffee)
    coffee = await stub.Classify(request(content, box=(451, 0, 901, 300), top_k=1), timeout=30)
    cat = await stub.Classify(request(content, box=(0, 0, 451, 300), top_k=1), timeout=30)
    assert [label.index for label in coffee.labels] == [ESPRESSO]
    assert cat.labels[0].index in CATS


async def test_top_k_beyond_the_classes_returns_every_class(stub, cat_and_coffee):
    reply = await stub.Classify(request(jpeg(cat_and_coffee), top_k=5000), timeout=30)
    assert len(reply.labels) == 1000
    assert sorted(label.index for label in reply.labels) == list(range(1000))
    assert abs(sum(label.probability for label in reply.labels) - 1.0) < 1e-3


async def test_the_model_is_chosen_per_request(stub, shared_data):
    flower = shared_data / "flowers17" / "images" / "image_0726.jpg"  # test split, Sunflower
    reply = await stub.Classify(
        request(flower.read_bytes(), model=names.FLOWERS17, top_k=3), timeout=30)
    assert reply.model.name == names.FLOWERS17
    assert reply.labels[0].name == "Sunflower" and reply.labels[0].probability > 0.5


async def test_flowers_labels_come_from_the_card(stub, cat_and_coffee):
    reply = await stub.Classify(
        request(jpeg(cat_and_coffee), model=names.FLOWERS17, top_k=17), timeout=30)
    labels = {label.name for label in reply.labels}
    assert len(labels) == 17 and {"Daffodil", "Sunflower", "Tulip"} <= labels


@pytest.mark.parametrize("options, fragment", [
    ({"model": "resnet_9000"}, "unknown model"),
    ({"top_k": -1}, "top_k"),
    ({"box": (890.0, 0.0, 2000.0, 300.0)}, "at least 12"),
    ({"box": (100.0, 100.0, 50.0, 200.0)}, "at least 12"),
    ({"box": (0.0, 0.0, float("inf"), 10.0)}, "finite"),
])
async def test_invalid_options_are_rejected(stub, cat_and_coffee, options, fragment):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Classify(request(jpeg(cat_and_coffee), **options), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in raised.value.details()


async def test_a_model_that_is_not_installed_is_failed_precondition(server, stub, cat_and_coffee):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Classify(request(jpeg(cat_and_coffee), model=MISSING), timeout=30)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "make models" in raised.value.details()
    assert await health_status(server.address, "xcloud.v1.FineGrained") == "SERVING"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_and_unusual_images_get_the_right_status(stub, case):
    if case.code == "OK":
        reply = await stub.Classify(request(case.content), timeout=30)
        assert len(reply.labels) == 5
    else:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Classify(request(case.content), timeout=30)
        assert raised.value.code().name == case.code
        assert case.message in raised.value.details().lower()


async def test_concurrent_requests_share_batches_and_get_their_own_answers(stub, cat_and_coffee):
    cat, coffee = jpeg(cat_and_coffee[:, :451]), jpeg(cat_and_coffee[:, 451:])
    replies = await asyncio.gather(*(
        stub.Classify(request(cat if i % 2 else coffee, top_k=1), timeout=30) for i in range(6)))
    tops = [reply.labels[0].index for reply in replies]
    assert all((t in CATS) if i % 2 else t == ESPRESSO for i, t in enumerate(tops))


async def test_list_models_reports_installed_and_missing(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        reply = await common_pb2_grpc.ModelRepositoryStub(channel).ListModels(
            common_pb2.ListModelsRequest())
    by_name = {m.model.name: m for m in reply.models}
    assert set(by_name) == {*SERVED, MISSING}
    assert all(by_name[n].installed and by_name[n].license for n in SERVED)
    assert not by_name[MISSING].installed


async def test_metrics_endpoint_has_every_stage(server, stub, cat_and_coffee):
    await stub.Classify(request(jpeg(cat_and_coffee)), timeout=30)
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    for stage in ("queue", "preprocess", "inference", "postprocess"):
        series = f'{{model="{names.MOBILENET_V2_IMAGENET}",version="1"}}'
        assert f"xcloud_{stage}_seconds_count{series}" in text
    assert 'method="Classify",service="fine_grained"' in text


def test_default_settings_match_the_deployment_plan():
    settings = FineGrainedSettings()
    assert (settings.port, settings.metrics_port) == (50055, 9155)
    assert settings.default_model in settings.models
    assert set(SERVED) <= set(settings.models)
