"""Task "identify" through the gateway with the real services: detection once, each face
searched in the caller's collection on a real PostgreSQL; tenants apart, cache keyed by the
collection's revision."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import grpc
import pytest

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.animal_identity.settings import AnimalIdentitySettings
from services.runtime.alignment import SHARED_CROP_MARGIN
from tests.gateway.identity_stack import start_identity_stack
from tests.services.animal_identity.conftest import (  # noqa: F401 (fixtures)
    gallery_database,
    identity_models,
    identity_settings,
)
from tests.support.servers import running
from xcloud.cli.main import main
from xcloud.client import analyze_request
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import animal_identity_pb2_grpc, face_detection_pb2, gateway_pb2_grpc

OK = 0
ACME, OTHER = (("x-tenant-id", "acme"),), (("x-tenant-id", "other"),)


@dataclass(frozen=True)
class Stack:
    gateway: gateway_pb2_grpc.GatewayStub
    identity: animal_identity_pb2_grpc.AnimalIdentityStub
    backends: dict[str, BackendSettings]
    gateway_address: str


@pytest.fixture(scope="module")
async def stack(identity_models, gallery_database):  # noqa: F811 (fixtures imported above)
    """The gateway and the identity service (stubs), over real servers on loopback."""
    async with contextlib.AsyncExitStack() as stack:
        live = await start_identity_stack(stack, gallery_database)
        gateway = await stack.enter_async_context(
            grpc.aio.insecure_channel(live.gateway_address))
        direct = await stack.enter_async_context(
            grpc.aio.insecure_channel(live.identity_address))
        yield Stack(gateway_pb2_grpc.GatewayStub(gateway),
                    animal_identity_pb2_grpc.AnimalIdentityStub(direct), live.backends,
                    live.gateway_address)


async def face_crop(gateway, image: bytes):
    """The crop a caller enrols: detection's aligned face at the gateway's shared framing."""
    request = analyze_request(image, ["detection"])
    request.options.detection.CopyFrom(face_detection_pb2.DetectOptions(
        aligned_size=224, aligned_margin=SHARED_CROP_MARGIN))
    reply = await gateway.Analyze(request, timeout=60)
    return reply.faces[0].face.aligned


@pytest.fixture(scope="module")
async def people(stack, astronaut_jpeg):
    """Collection "people" of tenant acme with the astronaut enrolled."""
    gateway, identity = stack.gateway, stack.identity
    await identity.CreateCollection(pb.CreateCollectionRequest(
        name="people", kind=pb.COLLECTION_KIND_FACE), metadata=ACME, timeout=30)
    crop = await face_crop(gateway, astronaut_jpeg)
    await identity.Enroll(pb.EnrollRequest(collection="people", subject="eileen", faces=[crop]),
                          metadata=ACME, timeout=60)
    return "people"


def identify(image: bytes, collection: str, no_cache: bool = False):
    return analyze_request(image, ["detection", "identify"], collection=collection,
                           no_cache=no_cache)


async def test_an_enrolled_face_is_identified(stack, people, astronaut_jpeg):
    gateway = stack.gateway
    reply = await gateway.Analyze(identify(astronaut_jpeg, people, no_cache=True),
                                  metadata=ACME, timeout=60)
    assert [s.code for s in reply.statuses] == [OK, OK], reply.statuses
    (face,) = reply.faces
    best = face.identity.matches[0]
    assert best.subject == "eileen" and best.same_subject and best.distance < 0.3
    assert reply.statuses[1].model.name == AnimalIdentitySettings().face_model


async def test_another_tenant_cannot_see_the_collection(stack, people, astronaut_jpeg):
    gateway = stack.gateway
    reply = await gateway.Analyze(identify(astronaut_jpeg, people), metadata=OTHER, timeout=60)
    detection, identity = reply.statuses
    assert detection.code == OK
    assert identity.code == grpc.StatusCode.NOT_FOUND.value[0] and "people" in identity.message
    assert not reply.faces[0].HasField("identity")


async def test_identify_needs_a_collection_and_is_not_a_default_task(stack, astronaut_jpeg):
    gateway = stack.gateway
    reply = await gateway.Analyze(identify(astronaut_jpeg, ""), metadata=ACME, timeout=60)
    assert reply.statuses[1].code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "options.identify.collection" in reply.statuses[1].message
    everything = await gateway.Analyze(analyze_request(astronaut_jpeg), metadata=ACME, timeout=60)
    assert [s.task for s in everything.statuses] == ["detection"]


async def test_a_cached_answer_ends_when_the_collection_changes(stack, people, astronaut_jpeg):
    gateway, identity = stack.gateway, stack.identity
    first = await gateway.Analyze(identify(astronaut_jpeg, people), metadata=ACME, timeout=60)
    again = await gateway.Analyze(identify(astronaut_jpeg, people), metadata=ACME, timeout=60)
    assert again.statuses[1].cached and again.faces[0].identity == first.faces[0].identity
    crop = await face_crop(gateway, astronaut_jpeg)
    await identity.Enroll(pb.EnrollRequest(collection=people, subject="twin", faces=[crop]),
                          metadata=ACME, timeout=60)
    after = await gateway.Analyze(identify(astronaut_jpeg, people), metadata=ACME, timeout=60)
    assert not after.statuses[1].cached
    assert {m.subject for m in after.faces[0].identity.matches} == {"eileen", "twin"}


async def test_with_api_keys_the_key_names_the_tenant_not_the_caller(stack, people, astronaut_jpeg):
    settings = GatewaySettings(port=0, metrics_port=None, backends=stack.backends,
                               api_keys=["key-acme", "key-other"],
                               api_key_tenants={"key-acme": "acme"})
    async with running(GatewayApp(settings), settings) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        gateway = gateway_pb2_grpc.GatewayStub(channel)
        claimed = await gateway.Analyze(identify(astronaut_jpeg, people), timeout=60,
                                        metadata=(("x-api-key", "key-other"), *ACME))
        own = await gateway.Analyze(identify(astronaut_jpeg, people), timeout=60,
                                    metadata=(("x-api-key", "key-acme"),))
    assert claimed.statuses[1].code == grpc.StatusCode.NOT_FOUND.value[0]
    assert own.statuses[1].code == OK and own.faces[0].identity.matches[0].subject == "eileen"


async def test_the_cli_enrols_through_detection_and_analyze_names_the_face(
        stack, astronaut_jpeg, tmp_path, capsys):
    """`xcloud gallery create/enroll` then `xcloud analyze --collection` (default tenant)."""
    photo = tmp_path / "eileen.jpg"
    photo.write_bytes(astronaut_jpeg)
    gateway = ["--gateway", stack.gateway_address]
    gallery = [*gateway, "gallery"]  # through the gateway only

    async def cli(*argv: str) -> str:
        assert await asyncio.to_thread(main, list(argv)) == 0, capsys.readouterr().err
        return capsys.readouterr().out

    created = await cli(*gallery, "create", "cli-people")
    assert f"face, model {AnimalIdentitySettings().face_model}" in created
    assert "enrolled 1 image(s) of eileen" in await cli(*gallery, "enroll", "cli-people", "eileen",
                                                        str(photo))
    assert "eileen\t1" in await cli(*gallery, "list", "cli-people")
    assert "Identity eileen (distance" in await cli(*gateway, "analyze", "--collection",
                                                    "cli-people", str(photo))
    assert await asyncio.to_thread(main, [*gallery, "enroll", "cli-people", "x",
                                          str(tmp_path / "missing.jpg")]) == 1
    assert "cannot read" in capsys.readouterr().err
