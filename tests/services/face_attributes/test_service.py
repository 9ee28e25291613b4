"""The face-attributes service over real gRPC: parts and their statuses, embeddings, batching,
bad crops, catalog, metrics."""
from __future__ import annotations

import asyncio
import urllib.request

import grpc
import numpy as np
import pytest

from services.face_attributes.app import FaceAttributesApp
from services.face_attributes.parts import EMBEDDING, PARTS, Framing, Part, decode_age
from services.face_attributes.settings import FaceAttributesSettings
from tests.services.face_attributes.support import astronaut_crop
from tests.support.servers import health_status, running
from xcloud.v1 import common_pb2, common_pb2_grpc, face_attributes_pb2_grpc
from xcloud.v1 import face_attributes_pb2 as fa

OK, NOT_INSTALLED = common_pb2.STATUS_CODE_OK, common_pb2.STATUS_CODE_FAILED_PRECONDITION


def settings(**overrides) -> FaceAttributesSettings:
    return FaceAttributesSettings(port=0, metrics_port=0, max_batch_size=8, **overrides)


@pytest.fixture(scope="module")
async def server(attribute_models):
    # A long batch window makes concurrent calls share batches however slow the machine is.
    config = settings(max_batch_delay_ms=100)
    async with running(FaceAttributesApp(config), config) as live:
        yield live


@pytest.fixture(scope="module")
async def stub(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield face_attributes_pb2_grpc.FaceAttributesStub(channel)


def raw(rgb: np.ndarray) -> common_pb2.RawImage:
    height, width = rgb.shape[:2]
    return common_pb2.RawImage(width=width, height=height, rgb=np.ascontiguousarray(rgb).tobytes())


async def test_every_part_answers_with_its_model(stub):
    reply = await stub.Predict(fa.FaceAttributesRequest(face=raw(astronaut_crop())), timeout=30)
    attributes = reply.attributes
    assert 20 < attributes.age.years < 70
    assert attributes.gender.label in ("male", "female") and 0.5 <= attributes.gender.probability <= 1
    assert attributes.race.label in ("white", "black", "asian", "indian", "others")
    assert len(attributes.race.probabilities) == 5
    assert sum(p.probability for p in attributes.race.probabilities) == pytest.approx(1, abs=1e-5)
    assert 1.0 <= attributes.beauty.score <= 5.0
    statuses = {s.task: s for s in attributes.statuses}
    assert list(statuses) == ["age", "gender", "race", "beauty"]
    models = {"age": "faceapi_age_gender", "gender": "gender_xcloud", "race": "race_utkface",
              "beauty": "beauty_scut5500"}
    for part, model in models.items():
        assert statuses[part].code == OK
        assert (statuses[part].model.name, statuses[part].model.version) == (model, "1")


async def test_a_missing_model_is_reported_by_its_part_and_gender_falls_back(attribute_models):
    """Without our gender head face-api's gender answers; a part whose model is not installed
    says so while the others answer."""
    parts = [p for p in PARTS if p.model != "gender_xcloud"]
    parts = [Part(p.name, "not_built_yet", p.framing, p.output, p.decode) if p.name == "beauty"
             else p for p in parts]
    config = settings()
    async with running(FaceAttributesApp(config, parts), config) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        stub = face_attributes_pb2_grpc.FaceAttributesStub(channel)
        reply = await stub.Predict(fa.FaceAttributesRequest(face=raw(astronaut_crop())), timeout=30)
    statuses = {s.task: s for s in reply.attributes.statuses}
    assert statuses["gender"].code == OK and statuses["gender"].model.name == "faceapi_age_gender"
    assert statuses["race"].code == OK
    assert statuses["beauty"].code == NOT_INSTALLED
    assert "not installed" in statuses["beauty"].message and "not_built_yet" in statuses["beauty"].message
    assert not reply.attributes.HasField("beauty")


async def test_embedding_is_128_values_stable_across_crop_sizes(stub):
    replies = [await stub.Embed(fa.FaceEmbeddingRequest(face=raw(astronaut_crop(side))), timeout=30)
               for side in (224, 320)]
    first, second = (np.array(r.embedding.values) for r in replies)
    assert first.shape == (128,)
    assert replies[0].embedding.same_person_distance == pytest.approx(0.6)
    assert replies[0].embedding.model.name == replies[0].model.name == "faceapi_recognition"
    assert np.linalg.norm(first - second) < 0.6 * 0.5  # one face: far inside the threshold


async def test_concurrent_crops_share_batches_and_get_their_own_answers(server, stub):
    crops = [astronaut_crop(side) for side in (224, 256, 288, 320)]
    alone = [await stub.Predict(fa.FaceAttributesRequest(face=raw(c)), timeout=30) for c in crops]
    together = await asyncio.gather(
        *(stub.Predict(fa.FaceAttributesRequest(face=raw(c)), timeout=30) for c in crops)
    )
    for one, other in zip(alone, together):
        assert other.attributes.age.years == pytest.approx(one.attributes.age.years, abs=1e-3)
        assert other.attributes.gender.probability == pytest.approx(
            one.attributes.gender.probability, abs=1e-4)
    text = await asyncio.to_thread(metrics_text, server.metrics_port)
    single = _metric(text, 'xcloud_batch_size_bucket{le="1.0",model="faceapi_age_gender",version="1"}')
    total = _metric(text, 'xcloud_batch_size_count{model="faceapi_age_gender",version="1"}')
    assert total < single + len(crops)  # at least one run held more than one crop


def metrics_text(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def _metric(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.parametrize("face, code, fragment", [
    (common_pb2.RawImage(width=224, height=200, rgb=bytes(224 * 200 * 3)), "INVALID_ARGUMENT", "square"),
    (common_pb2.RawImage(width=64, height=64, rgb=bytes(64 * 64 * 3)), "INVALID_ARGUMENT",
     "at least 112"),
    (common_pb2.RawImage(width=224, height=224, rgb=bytes(100)), "INVALID_ARGUMENT", "carries 100 bytes"),
    (common_pb2.RawImage(width=0, height=0), "INVALID_ARGUMENT", "invalid size"),
    (common_pb2.RawImage(width=1100, height=1100, rgb=bytes(1100 * 1100 * 3)), "RESOURCE_EXHAUSTED",
     "limit"),
], ids=["not_square", "too_small", "short_bytes", "empty", "too_large"])
async def test_bad_crops_get_a_status_the_caller_can_act_on(server, stub, face, code, fragment):
    calls = ((stub.Predict, fa.FaceAttributesRequest), (stub.Embed, fa.FaceEmbeddingRequest))
    for call, request in calls:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(request(face=face), timeout=30)
        assert raised.value.code().name == code
        assert fragment in raised.value.details()
    assert await health_status(server.address) == "SERVING"


async def test_list_models_names_every_part_model_and_which_are_installed(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = common_pb2_grpc.ModelRepositoryStub(channel)
        reply = await stub.ListModels(common_pb2.ListModelsRequest())
    installed = {m.model.name: m.installed for m in reply.models}
    assert installed == {"faceapi_age_gender": True, "gender_xcloud": True, "race_utkface": True,
                         "beauty_scut5500": True, "faceapi_recognition": True}


async def test_a_server_with_no_part_installed_answers_failed_precondition(faceapi_models):
    race = next(p for p in PARTS if p.name == "race")
    only_race = [Part(race.name, "not_built_yet", race.framing, race.output, race.decode)]
    missing = Part("embedding", "not_built_yet", EMBEDDING.framing, "embedding", EMBEDDING.decode)
    config = settings()
    async with running(FaceAttributesApp(config, only_race, missing), config) as live:
        async with grpc.aio.insecure_channel(live.address) as channel:
            stub = face_attributes_pb2_grpc.FaceAttributesStub(channel)
            for call, request in ((stub.Predict, fa.FaceAttributesRequest),
                                  (stub.Embed, fa.FaceEmbeddingRequest)):
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await call(request(face=raw(astronaut_crop())), timeout=30)
                assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "not installed" in raised.value.details()
        assert await health_status(live.address) == "SERVING"


async def test_a_part_whose_size_disagrees_with_its_model_stops_the_start(faceapi_models):
    wrong = Part("age", "faceapi_age_gender", Framing(margin=0.2, size=128), "age", decode_age)
    config = settings()
    with pytest.raises(RuntimeError, match="takes .* but the part table feeds it 3x128x128"):
        async with running(FaceAttributesApp(config, [wrong]), config):
            pass
