"""The identity service over real gRPC: real models, real faces, a real PostgreSQL."""
from __future__ import annotations

import asyncio
import itertools
import json

import grpc
import numpy as np
import pytest

from services.animal_identity.settings import AnimalIdentitySettings
from tests.conftest import model_card_path
from tests.services.animal_identity.conftest import jpeg, raw_image
from xcloud import names
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import common_pb2, common_pb2_grpc

FACE, GENERIC = pb.COLLECTION_KIND_FACE, pb.COLLECTION_KIND_GENERIC
FACE_MODEL = AnimalIdentitySettings().face_model
_names = itertools.count()
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image provides the test photos")


def served_threshold() -> float:
    """The FACE model card's calibrated distance (the service serves it when no setting says)."""
    card = json.loads(model_card_path(FACE_MODEL).read_text())
    return card["identity"]["threshold"]


def tenant(name: str) -> tuple[tuple[str, str], ...]:
    return (("x-tenant-id", name),)


async def new_collection(stub, kind=FACE, metadata=()) -> str:
    name = f"test-{next(_names)}"
    reply = await stub.CreateCollection(pb.CreateCollectionRequest(name=name, kind=kind),
                                        metadata=metadata, timeout=30)
    assert reply.collection.name == name
    return name


async def status_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value.code()


@pytest.fixture(scope="module")
async def face_gallery(identity_stub, demo_faces):
    """A FACE collection with every demo face enrolled as its own subject."""
    name = await new_collection(identity_stub)
    for i, crop in enumerate(demo_faces):
        reply = await identity_stub.Enroll(pb.EnrollRequest(
            collection=name, subject=f"person{i:02d}", faces=[raw_image(crop)]), timeout=60)
        assert (reply.enrolled, reply.subject_embeddings) == (1, 1)
        assert reply.model.name == FACE_MODEL and reply.model.version
    return name


async def test_collections_carry_their_model_dimension_and_threshold(identity_stub):
    name = await new_collection(identity_stub, GENERIC)
    listed = await identity_stub.ListCollections(pb.ListCollectionsRequest(), timeout=30)
    found = {c.name: c for c in listed.collections}[name]
    expected = (GENERIC, 1280, names.MOBILENET_V2_FEATURES)
    assert (found.kind, found.dimension, found.model.name) == expected
    deleted = await identity_stub.DeleteCollection(pb.DeleteCollectionRequest(name=name),
                                                   timeout=30)
    assert deleted.collection == found
    listed = await identity_stub.ListCollections(pb.ListCollectionsRequest(), timeout=30)
    assert name not in {c.name for c in listed.collections}


async def test_each_face_identifies_as_itself(identity_stub, face_gallery, demo_faces):
    assert len(demo_faces) >= 10
    for i, crop in enumerate(demo_faces):
        reply = await identity_stub.Identify(pb.IdentifyRequest(
            collection=face_gallery, face=raw_image(crop), top_k=3), timeout=60)
        top = reply.matches[0]
        assert (top.subject, top.same_subject) == (f"person{i:02d}", True)
        assert top.distance == pytest.approx(0.0, abs=1e-3) and top.score > 0.95
        assert len(reply.matches) == 3 and reply.threshold == pytest.approx(served_threshold())
        assert [m.distance for m in reply.matches] == sorted(m.distance for m in reply.matches)


async def test_mirrored_views_are_found_and_verified(identity_stub, face_gallery, demo_faces):
    """A mirrored crop is not a new photo (see models/evaluation/identity.py); a robustness
    check."""
    found = 0
    for i, crop in enumerate(demo_faces):
        mirrored = raw_image(crop[:, ::-1])
        request = pb.IdentifyRequest(collection=face_gallery, face=mirrored)
        reply = await identity_stub.Identify(request, timeout=60)
        found += reply.matches[0].subject == f"person{i:02d}"
    assert found >= 0.9 * len(demo_faces)
    first_mirrored = raw_image(demo_faces[0][:, ::-1])
    verdict = await identity_stub.Verify(pb.VerifyRequest(
        collection=face_gallery, subject="person00", face=first_mirrored), timeout=60)
    assert verdict.same_subject and 0.0 < verdict.distance < verdict.threshold
    assert verdict.threshold == pytest.approx(served_threshold())


async def test_generic_collections_take_encoded_images(identity_stub):
    name = await new_collection(identity_stub, GENERIC)
    photos = {"cat": skimage_data.chelsea(), "coffee": skimage_data.coffee(),
              "astronaut": skimage_data.astronaut()}
    for subject, rgb in photos.items():
        await identity_stub.Enroll(pb.EnrollRequest(collection=name, subject=subject,
                                                    images=[jpeg(rgb)]), timeout=60)
    reply = await identity_stub.Identify(pb.IdentifyRequest(
        collection=name, image=jpeg(np.ascontiguousarray(photos["cat"][:, ::-1]))), timeout=60)
    assert reply.matches[0].subject == "cat" and reply.matches[0].same_subject
    assert reply.model.name == names.MOBILENET_V2_FEATURES


async def test_concurrent_enrolments_lose_nothing_and_page_through(identity_stub, demo_faces):
    name = await new_collection(identity_stub)
    calls = [identity_stub.Enroll(pb.EnrollRequest(
        collection=name, subject=f"s{i:02d}", faces=[raw_image(demo_faces[i % len(demo_faces)])]),
        timeout=120) for i in range(50)]
    await asyncio.gather(*calls)
    subjects, token = [], ""
    while True:
        page = await identity_stub.ListSubjects(pb.ListSubjectsRequest(
            collection=name, page_size=7, page_token=token), timeout=30)
        subjects += [(s.subject, s.embeddings) for s in page.subjects]
        assert page.model.name == FACE_MODEL
        token = page.next_page_token
        if not token:
            break
    assert subjects == [(f"s{i:02d}", 1) for i in range(50)]


async def revision_of(stub, name: str) -> int:
    reply = await stub.GetCollection(pb.GetCollectionRequest(name=name), timeout=30)
    return reply.collection.revision


async def test_deleted_subjects_are_gone_and_every_change_moves_the_revision(
        identity_stub, demo_faces):
    name = await new_collection(identity_stub)
    face = raw_image(demo_faces[0])
    created = await revision_of(identity_stub, name)
    await identity_stub.Enroll(pb.EnrollRequest(collection=name, subject="gone",
                                                faces=[face, face]), timeout=60)
    enrolled = await revision_of(identity_stub, name)
    gone = pb.DeleteSubjectRequest(collection=name, subject="gone")
    reply = await identity_stub.DeleteSubject(gone, timeout=30)
    assert (reply.deleted_embeddings, reply.model.name) == (2, FACE_MODEL)
    assert created < enrolled < await revision_of(identity_stub, name)
    assert await status_of(identity_stub.Verify(pb.VerifyRequest(
        collection=name, subject="gone", face=face), timeout=30)) == grpc.StatusCode.NOT_FOUND
    empty = await identity_stub.Identify(pb.IdentifyRequest(collection=name, face=face), timeout=30)
    assert len(empty.matches) == 0


async def test_a_collection_is_visible_to_its_tenant_only(identity_stub, demo_faces):
    name = await new_collection(identity_stub, metadata=tenant("acme"))
    face = raw_image(demo_faces[0])
    await identity_stub.Enroll(pb.EnrollRequest(collection=name, subject="x", faces=[face]),
                               metadata=tenant("acme"), timeout=60)
    rival = tenant("rival")
    others = await identity_stub.ListCollections(pb.ListCollectionsRequest(), metadata=rival,
                                                 timeout=30)
    assert name not in {c.name for c in others.collections}
    for call in (
        identity_stub.Identify(pb.IdentifyRequest(collection=name, face=face), metadata=rival),
        identity_stub.ListSubjects(pb.ListSubjectsRequest(collection=name), metadata=rival),
        identity_stub.DeleteCollection(pb.DeleteCollectionRequest(name=name), metadata=rival),
        identity_stub.Identify(pb.IdentifyRequest(collection=name, face=face)),  # default tenant
    ):
        assert await status_of(call) == grpc.StatusCode.NOT_FOUND
    # the rival may use the same name for a collection of its own
    await identity_stub.CreateCollection(pb.CreateCollectionRequest(name=name, kind=FACE),
                                         metadata=tenant("rival"), timeout=30)
    mine = await identity_stub.ListSubjects(pb.ListSubjectsRequest(collection=name),
                                            metadata=tenant("acme"), timeout=30)
    assert [s.subject for s in mine.subjects] == ["x"]


async def test_bad_requests_get_statuses_a_caller_can_act_on(
        identity_stub, face_gallery, demo_faces):
    face, image = raw_image(demo_faces[0]), jpeg(skimage_data.chelsea())
    generic = await new_collection(identity_stub, GENERIC)
    stub, gallery = identity_stub, face_gallery
    cases = {
        grpc.StatusCode.NOT_FOUND: [
            stub.Identify(pb.IdentifyRequest(collection="no-such", face=face)),
            stub.Verify(pb.VerifyRequest(collection=gallery, subject="nobody", face=face)),
            stub.DeleteSubject(pb.DeleteSubjectRequest(collection=gallery, subject="nobody")),
        ],
        grpc.StatusCode.ALREADY_EXISTS: [
            stub.CreateCollection(pb.CreateCollectionRequest(name=gallery, kind=FACE)),
        ],
        grpc.StatusCode.INVALID_ARGUMENT: [
            stub.Enroll(pb.EnrollRequest(collection=gallery, subject="s")),
            stub.Enroll(pb.EnrollRequest(collection=gallery, subject="s", images=[image])),
            stub.Enroll(pb.EnrollRequest(collection=generic, subject="s", faces=[face])),
            stub.Enroll(pb.EnrollRequest(collection=gallery, subject="", faces=[face])),
            stub.Identify(pb.IdentifyRequest(collection=gallery, face=face, top_k=101)),
            stub.Identify(pb.IdentifyRequest(collection=gallery, face=face, top_k=-1)),
            stub.Identify(pb.IdentifyRequest(collection=gallery, face=face, image=image)),
            stub.Identify(pb.IdentifyRequest(collection=gallery, face=common_pb2.RawImage(
                width=100, height=50, rgb=bytes(100 * 50 * 3)))),
            stub.Identify(pb.IdentifyRequest(collection=generic, image=common_pb2.Image(
                content=b"not an image"))),
            stub.CreateCollection(pb.CreateCollectionRequest(name="bad name!", kind=FACE)),
            stub.CreateCollection(pb.CreateCollectionRequest(name="no-kind")),
            stub.ListSubjects(pb.ListSubjectsRequest(collection=gallery, page_token="%%")),
        ],
    }
    for code, calls in cases.items():
        for number, call in enumerate(calls):
            assert (number, await status_of(call)) == (number, code)


async def test_every_kinds_model_is_listed(identity_server):
    async with grpc.aio.insecure_channel(identity_server.address) as channel:
        reply = await common_pb2_grpc.ModelRepositoryStub(channel).ListModels(
            common_pb2.ListModelsRequest(), timeout=30)
    assert {(m.model.name, m.installed) for m in reply.models} == {
        (FACE_MODEL, True), (names.MOBILENET_V2_FEATURES, True),
        (names.ANIMAL_REID, True)}


async def test_a_collection_may_ask_for_an_operating_point_of_the_card(
        identity_stub, identity_models, demo_faces):
    card = json.loads(model_card_path(FACE_MODEL, identity_models).read_text())["identity"]
    default = await identity_stub.CreateCollection(pb.CreateCollectionRequest(
        name=f"far-default-{next(_names)}", kind=FACE), timeout=30)
    assert default.collection.target_far == pytest.approx(card["target_far"])
    assert default.collection.threshold == pytest.approx(card["threshold"])
    strict = await identity_stub.CreateCollection(pb.CreateCollectionRequest(
        name=f"far-strict-{next(_names)}", kind=FACE, target_far=1e-4), timeout=30)
    assert strict.collection.target_far == pytest.approx(1e-4)
    assert strict.collection.threshold == pytest.approx(card["thresholds_by_far"]["0.0001"])
    assert strict.collection.threshold < default.collection.threshold
    name = strict.collection.name
    await identity_stub.Enroll(pb.EnrollRequest(collection=name, subject="a",
                                                faces=[raw_image(demo_faces[0])]), timeout=60)
    answer = await identity_stub.Identify(pb.IdentifyRequest(
        collection=name, face=raw_image(demo_faces[0])), timeout=60)
    assert answer.threshold == pytest.approx(strict.collection.threshold)  # kept for its life
    for kind, far, hint in ((FACE, 0.05, "0.0001, 0.001, 0.01"), (FACE, 1.5, "in (0, 1)"),
                            (GENERIC, 1e-3, "not calibrated for generic")):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await identity_stub.CreateCollection(pb.CreateCollectionRequest(
                name=f"far-bad-{next(_names)}", kind=kind, target_far=far), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert hint in refused.value.details()
