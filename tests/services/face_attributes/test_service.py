"""The face-attributes service over real gRPC: parts and their statuses, embeddings, every face
of an image in one call, fast and accurate, batching, bad crops, catalog, metrics."""
from __future__ import annotations

import asyncio
import urllib.request

import grpc
import numpy as np
import pytest

from services.face_attributes.app import FaceAttributesApp
from services.face_attributes.handler import SAME_PERSON_DISTANCE, same_person_distance
from services.face_attributes.parts import (
    EMBEDDING,
    EMBEDDINGS,
    PARTS,
    TRUNK,
    Framing,
    Part,
    active_parts,
    decode_age,
    decode_embedding,
)
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.repository import ModelCard, ModelRepository
from tests.gateway.helpers import metric
from tests.services.face_attributes.support import astronaut_crop
from tests.support.servers import health_status, running
from xcloud import names
from xcloud.v1 import common_pb2, common_pb2_grpc, face_attributes_pb2_grpc
from xcloud.v1 import face_attributes_pb2 as fa

OK, NOT_INSTALLED = common_pb2.STATUS_CODE_OK, common_pb2.STATUS_CODE_FAILED_PRECONDITION


def trunk_installed() -> bool:
    return ModelRepository(FaceAttributesSettings().model_repository).is_installed(TRUNK)


def served_model(part: str) -> str:
    """The model that answers ``part`` here: the shared trunk when it is built, else today's."""
    table = EMBEDDINGS if part == "embedding" else PARTS
    installed = [m for m in {p.model for p in table}
                 if ModelRepository(FaceAttributesSettings().model_repository).is_installed(m)]
    return next(p.model for p in active_parts(table, installed) if p.name == part)


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
    assert attributes.gender.label in ("male", "female")
    assert 0.5 <= attributes.gender.probability <= 1
    assert attributes.race.label in ("white", "black", "asian", "indian", "others")
    assert len(attributes.race.probabilities) == 5
    assert sum(p.probability for p in attributes.race.probabilities) == pytest.approx(1, abs=1e-5)
    assert 1.0 <= attributes.beauty.score <= 5.0
    statuses = {s.task: s for s in attributes.statuses}
    assert list(statuses) == ["age", "gender", "race", "beauty"]
    for part in ("age", "gender", "race", "beauty"):
        model = served_model(part)
        assert statuses[part].code == OK
        assert (statuses[part].model.name, statuses[part].model.version) == (model, "1")


async def test_a_missing_model_is_reported_by_its_part_and_gender_falls_back(attribute_models):
    """Without our gender head face-api's gender answers; a part whose model is not installed
    says so while the others answer."""
    parts = [p for p in PARTS if p.model not in (names.GENDER, TRUNK)]
    parts = [Part(p.name, "not_built_yet", p.framing, p.output, p.decode) if p.name == "beauty"
             else p for p in parts]
    config = settings()
    async with running(FaceAttributesApp(config, parts), config) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        stub = face_attributes_pb2_grpc.FaceAttributesStub(channel)
        reply = await stub.Predict(fa.FaceAttributesRequest(face=raw(astronaut_crop())), timeout=30)
    statuses = {s.task: s for s in reply.attributes.statuses}
    assert statuses["gender"].code == OK
    assert statuses["gender"].model.name == names.FACEAPI_AGE_GENDER
    assert statuses["race"].code == OK
    assert statuses["beauty"].code == NOT_INSTALLED
    message = statuses["beauty"].message
    assert "not installed" in message and "not_built_yet" in message
    assert not reply.attributes.HasField("beauty")


async def test_embedding_is_stable_across_crop_sizes(stub):
    replies = [await stub.Embed(fa.FaceEmbeddingRequest(face=raw(astronaut_crop(side))), timeout=30)
               for side in (224, 320)]
    first, second = (np.array(r.embedding.values) for r in replies)
    threshold = replies[0].embedding.same_person_distance
    assert replies[0].embedding.model.name == replies[0].model.name == served_model("embedding")
    if served_model("embedding") == names.FACEAPI_RECOGNITION:
        assert first.shape == (128,) and threshold == pytest.approx(0.6)
    else:  # face_embedding_xcloud's: L2-normalised, its card's identity.threshold
        assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-3) and threshold > 0
    assert np.linalg.norm(first - second) < threshold * 0.5  # one face: far inside the threshold


async def test_concurrent_crops_share_batches_and_get_their_own_answers(server, stub):
    crops = [astronaut_crop(side) for side in (224, 256, 288, 320)]
    alone = [await stub.Predict(fa.FaceAttributesRequest(face=raw(c)), timeout=30) for c in crops]
    shared_before = await asyncio.to_thread(_shared_runs, server.metrics_port, served_model("age"))
    together = await asyncio.gather(
        *(stub.Predict(fa.FaceAttributesRequest(face=raw(c)), timeout=30) for c in crops)
    )
    for one, other in zip(alone, together):
        assert other.attributes.age.years == pytest.approx(one.attributes.age.years, abs=1e-3)
        assert other.attributes.gender.probability == pytest.approx(
            one.attributes.gender.probability, abs=1e-4)
    shared_after = await asyncio.to_thread(_shared_runs, server.metrics_port, served_model("age"))
    assert shared_after > shared_before  # at least one run held more than one crop


def _shared_runs(port: int, model: str) -> float:
    """Inference runs of ``model`` that held more than one row."""
    text = metrics_text(port)
    single = _metric(text, f'xcloud_batch_size_bucket{{le="1.0",model="{model}",version="1"}}')
    return _metric(text, f'xcloud_batch_size_count{{model="{model}",version="1"}}') - single


def metrics_text(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def _metric(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.parametrize("face, code, fragment", [
    (common_pb2.RawImage(width=224, height=200, rgb=bytes(224 * 200 * 3)), "INVALID_ARGUMENT",
     "square"),
    (common_pb2.RawImage(width=64, height=64, rgb=bytes(64 * 64 * 3)), "INVALID_ARGUMENT",
     "at least 112"),
    (common_pb2.RawImage(width=224, height=224, rgb=bytes(100)), "INVALID_ARGUMENT",
     "carries 100 bytes"),
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
    # the shared trunk and the identity graph are listed, installed or not (the tables
    # prefer them)
    assert installed.pop(TRUNK) in (True, False)
    assert installed.pop(names.FACE_EMBEDDING) in (True, False)
    assert installed == {names.FACEAPI_AGE_GENDER: True, names.GENDER: True, names.RACE: True,
                         names.BEAUTY: True, names.FACEAPI_RECOGNITION: True}


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
    wrong = Part("age", names.FACEAPI_AGE_GENDER, Framing(margin=0.2, size=128), "age", decode_age)
    config = settings()
    with pytest.raises(RuntimeError, match="takes .* but the part table feeds it 3x128x128"):
        async with running(FaceAttributesApp(config, [wrong]), config):
            pass


def three_faces() -> list[np.ndarray]:
    """Three real, different faces as the gateway sends them: the portrait, its mirror image
    and a darker exposure of it (their answers differ, so order is visible)."""
    crop = astronaut_crop()
    return [crop, np.ascontiguousarray(crop[:, ::-1]), (crop * 0.55).astype(np.uint8)]


async def test_every_face_in_one_call_answers_as_one_call_per_face(stub):
    faces = three_faces()
    alone = [await stub.Predict(fa.FaceAttributesRequest(face=raw(f)), timeout=60) for f in faces]
    batched = await stub.Predict(fa.FaceAttributesRequest(faces=[raw(f) for f in faces],
                                                          with_embedding=True), timeout=60)
    assert not batched.HasField("attributes") and len(batched.results) == len(faces)
    for one, other in zip(alone, batched.results):
        assert other.age.years == pytest.approx(one.attributes.age.years, abs=1e-3)
        assert other.gender == one.attributes.gender or other.gender.probability == pytest.approx(
            one.attributes.gender.probability, abs=1e-4)
        assert other.beauty.score == pytest.approx(one.attributes.beauty.score, abs=1e-3)
        assert [p.probability for p in other.race.probabilities] == pytest.approx(
            [p.probability for p in one.attributes.race.probabilities], abs=1e-4)
        assert [s.code for s in other.statuses] == [s.code for s in one.attributes.statuses]
    ages = [r.age.years for r in batched.results]
    assert len(set(np.round(ages, 2))) > 1, ages  # the faces differ: the order is checked
    assert batched.model == alone[0].model
    embedded = [await stub.Embed(fa.FaceEmbeddingRequest(face=raw(f)), timeout=60) for f in faces]
    assert batched.embedding_status.code == OK
    assert batched.embedding_status.model.name == served_model("embedding")
    for one, other in zip(embedded, batched.embeddings):
        assert other.values == pytest.approx(one.embedding.values, abs=1e-4)


async def test_embed_takes_every_face_in_one_call(stub):
    faces = three_faces()
    reply = await stub.Embed(fa.FaceEmbeddingRequest(faces=[raw(f) for f in faces]), timeout=60)
    assert not reply.HasField("embedding") and len(reply.embeddings) == 3
    values = [np.array(e.values) for e in reply.embeddings]
    one = await stub.Embed(fa.FaceEmbeddingRequest(face=raw(faces[1])), timeout=60)
    assert values[1] == pytest.approx(np.array(one.embedding.values), abs=1e-4)
    assert reply.model.name == served_model("embedding")


async def test_accurate_mode_averages_the_mirror_image(stub):
    crop = astronaut_crop()
    mirror = np.ascontiguousarray(crop[:, ::-1])
    fast, flipped = [(await stub.Predict(fa.FaceAttributesRequest(face=raw(c)), timeout=60)
                      ).attributes for c in (crop, mirror)]
    accurate = (await stub.Predict(fa.FaceAttributesRequest(
        face=raw(crop), mode=fa.FACE_ATTRIBUTES_MODE_ACCURATE), timeout=60)).attributes
    assert all(s.code == OK for s in accurate.statuses)
    # the service mirrors each model's view, the test the whole crop: equal up to resampling
    assert accurate.age.years == pytest.approx((fast.age.years + flipped.age.years) / 2, abs=0.05)
    assert accurate.beauty.score == pytest.approx(
        (fast.beauty.score + flipped.beauty.score) / 2, abs=0.01)
    embeddings = [np.array((await stub.Embed(fa.FaceEmbeddingRequest(face=raw(c), mode=mode),
                                             timeout=60)).embedding.values)
                  for c, mode in ((crop, 0), (mirror, 0), (crop, fa.FACE_ATTRIBUTES_MODE_ACCURATE))]
    plain, other, both = embeddings
    mean = (plain + other) / 2
    expected = mean / np.linalg.norm(mean) * both_norm(plain, other)
    assert np.linalg.norm(both - expected) < 0.02 < np.linalg.norm(both - plain)


def both_norm(first: np.ndarray, second: np.ndarray) -> float:
    return float((np.linalg.norm(first) + np.linalg.norm(second)) / 2)


async def test_too_many_faces_are_refused_before_any_crop_is_read(attribute_models):
    config = settings(max_faces_per_call=2)
    garbage = common_pb2.RawImage(width=224, height=224, rgb=b"short")  # never decoded
    async with running(FaceAttributesApp(config), config) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        stub = face_attributes_pb2_grpc.FaceAttributesStub(channel)
        for call, request in ((stub.Predict, fa.FaceAttributesRequest),
                              (stub.Embed, fa.FaceEmbeddingRequest)):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call(request(faces=[garbage] * 3), timeout=30)
            assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "3 faces" in raised.value.details() and "at most 2" in raised.value.details()
            assert "MAX_FACES_PER_CALL" in raised.value.details()
        two = await stub.Predict(fa.FaceAttributesRequest(faces=[raw(astronaut_crop())] * 2),
                                 timeout=60)
        assert len(two.results) == 2


async def test_a_bad_face_among_many_is_named_and_face_with_faces_is_refused(stub):
    good = raw(astronaut_crop())
    bad = common_pb2.RawImage(width=64, height=64, rgb=bytes(64 * 64 * 3))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Predict(fa.FaceAttributesRequest(faces=[good, bad]), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "faces[1]" in raised.value.details() and "at least 112" in raised.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Predict(fa.FaceAttributesRequest(face=good, faces=[good]), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not both" in raised.value.details()


async def test_embedding_not_installed_is_its_status_while_attributes_answer(attribute_models):
    missing = Part("embedding", "not_built_yet", EMBEDDING.framing, "embedding", EMBEDDING.decode)
    config = settings()
    async with running(FaceAttributesApp(config, PARTS, missing), config) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        stub = face_attributes_pb2_grpc.FaceAttributesStub(channel)
        reply = await stub.Predict(fa.FaceAttributesRequest(
            faces=[raw(astronaut_crop())], with_embedding=True), timeout=60)
    assert len(reply.results) == 1 and reply.results[0].age.years > 0
    assert not reply.embeddings
    assert reply.embedding_status.code == NOT_INSTALLED
    assert "not_built_yet is not installed" in reply.embedding_status.message


async def test_an_embedding_on_a_part_model_shares_its_one_inference(attribute_models):
    """The shared trunk's shape with a real model: when the embedding is read from the model and
    framing of a part, Predict with the embedding runs that model once for every face."""
    gender = next(p for p in PARTS if p.model == names.GENDER)
    vector = Part("embedding", gender.model, gender.framing, gender.output, decode_embedding)
    faces = three_faces()
    config = settings()
    async with running(FaceAttributesApp(config, [gender], vector), config) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        stub = face_attributes_pb2_grpc.FaceAttributesStub(channel)
        before = metric("xcloud_batch_size_count", model=gender.model, version="1")
        reply = await stub.Predict(fa.FaceAttributesRequest(
            faces=[raw(f) for f in faces], with_embedding=True), timeout=60)
        runs = metric("xcloud_batch_size_count", model=gender.model, version="1") - before
        accurate = await stub.Embed(fa.FaceEmbeddingRequest(
            faces=[raw(f) for f in faces], mode=fa.FACE_ATTRIBUTES_MODE_ACCURATE), timeout=60)
    assert runs == 1  # three faces, attributes and embedding: one inference
    for result, embedding in zip(reply.results, reply.embeddings):
        assert max(embedding.values) == pytest.approx(result.gender.probability, abs=1e-6)
        assert embedding.model.name == gender.model
    for fast, slow in zip(reply.embeddings, accurate.embeddings):
        # the mean of two probability pairs at their mean norm: a pair's norm is in [0.707, 1]
        assert 0.7 < np.linalg.norm(slow.values) <= 1.0 + 1e-5
        assert slow.values != pytest.approx(fast.values, abs=1e-6)


def test_the_same_person_distance_is_the_cards_identity_threshold():
    def card(**fields) -> ModelCard:
        return ModelCard(name="m", version="1", **fields)

    both = card(identity={"threshold": 0.83}, same_person_distance=0.6)
    assert same_person_distance(both) == 0.83
    assert same_person_distance(card(same_person_distance=0.55)) == 0.55
    assert same_person_distance(card()) == SAME_PERSON_DISTANCE
