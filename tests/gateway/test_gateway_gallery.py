"""Identity galleries through the gateway with the real services: API keys bound to tenants,
face detection and the quality gate in the gateway, a real PostgreSQL behind the identity
service, and the CLI talking to the gateway only."""
from __future__ import annotations

import asyncio
import contextlib
import io
import json
from dataclasses import dataclass

import cv2
import grpc
import numpy as np
import pytest
from PIL import Image

from gateway.app import GatewayApp
from gateway.face_quality import BOUNDS
from gateway.settings import BackendSettings, GatewaySettings
from services.animal_identity.settings import AnimalIdentitySettings
from tests.gateway.identity_stack import start_identity_stack
from tests.services.animal_identity.conftest import (  # noqa: F401 (fixtures)
    gallery_database,
    identity_models,
    identity_settings,
)
from tests.support.servers import running
from xcloud.cli.main import main
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import common_pb2, gateway_pb2_grpc

ACME, OTHER = (("x-api-key", "key-acme"),), (("x-api-key", "key-other"),)
KEYS = {"key-acme": "acme", "key-other": "other"}
FACE, GENERIC = pb.COLLECTION_KIND_FACE, pb.COLLECTION_KIND_GENERIC


@dataclass(frozen=True)
class Stack:
    gateway: gateway_pb2_grpc.GatewayStub
    address: str
    backends: dict[str, BackendSettings]


@pytest.fixture(scope="module")
async def stack(identity_models, gallery_database):  # noqa: F811 (fixtures imported above)
    """Detection, identity and a gateway with two keys of two tenants, on loopback."""
    async with contextlib.AsyncExitStack() as stack:
        live = await start_identity_stack(stack, gallery_database,
                                          api_keys=[*KEYS, "key-unbound"], api_key_tenants=KEYS)
        channel = await stack.enter_async_context(
            grpc.aio.insecure_channel(live.gateway_address))
        yield Stack(gateway_pb2_grpc.GatewayStub(channel), live.gateway_address, live.backends)


def image(content: bytes) -> common_pb2.Image:
    return common_pb2.Image(content=content)


def altered(jpeg: bytes, scale: float = 1.0, blur_sigma: float = 0.0) -> bytes:
    """The photo downscaled and/or blurred, re-encoded as JPEG."""
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    if scale != 1.0:
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    if blur_sigma:
        rgb = cv2.GaussianBlur(rgb, (0, 0), blur_sigma)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


async def create(gateway, name: str, kind: int, metadata) -> pb.Collection:
    reply = await gateway.CreateCollection(pb.CreateCollectionRequest(name=name, kind=kind),
                                           metadata=metadata, timeout=30)
    return reply.collection


async def status_of(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


@pytest.fixture(scope="module")
async def people(stack, astronaut_jpeg) -> str:
    """FACE collection "people" of tenant acme with the astronaut enrolled through the gateway."""
    await create(stack.gateway, "people", FACE, ACME)
    reply = await stack.gateway.Enroll(pb.EnrollRequest(
        collection="people", subject="eileen", images=[image(astronaut_jpeg)]),
        metadata=ACME, timeout=60)
    assert reply.enrollment.enrolled == 1 and reply.qualities[0].reliable, reply
    return "people"


async def test_an_enrolled_face_is_identified_and_verified(stack, people, astronaut_jpeg):
    request = pb.IdentifyRequest(collection=people, image=image(astronaut_jpeg))
    found = await stack.gateway.Identify(request, metadata=ACME, timeout=60)
    best = found.identity.matches[0]
    assert best.subject == "eileen" and best.same_subject and best.distance < 0.3
    quality = found.quality
    assert quality.reliable and quality.inter_ocular_px > BOUNDS.min_inter_ocular_px
    assert abs(quality.yaw) < BOUNDS.max_abs_yaw and quality.sharpness > BOUNDS.min_sharpness
    verified = await stack.gateway.Verify(pb.VerifyRequest(
        collection=people, subject="eileen", image=image(astronaut_jpeg)),
        metadata=ACME, timeout=60)
    assert verified.verification.same_subject and verified.quality.reliable


async def test_another_tenant_can_neither_see_nor_use_the_collection(stack, people, astronaut_jpeg):
    gateway = stack.gateway
    listed = await gateway.ListCollections(pb.ListCollectionsRequest(), metadata=OTHER, timeout=30)
    assert people not in [c.name for c in listed.collections]
    # The identity service's own code and message, not a gateway rewording.
    missing = await status_of(gateway.GetCollection(pb.GetCollectionRequest(name=people),
                                                    metadata=OTHER, timeout=30))
    assert missing.code() == grpc.StatusCode.NOT_FOUND and people in missing.details()
    assert not missing.details().startswith("animal_identity")
    for call in (gateway.Identify(pb.IdentifyRequest(collection=people,
                                                     image=image(astronaut_jpeg)),
                                  metadata=OTHER, timeout=60),
                 gateway.Enroll(pb.EnrollRequest(collection=people, subject="intruder",
                                                 images=[image(astronaut_jpeg)]),
                                metadata=OTHER, timeout=60),
                 gateway.DeleteCollection(pb.DeleteCollectionRequest(name=people),
                                          metadata=OTHER, timeout=30)):
        assert (await status_of(call)).code() == grpc.StatusCode.NOT_FOUND
    # A claimed x-tenant-id changes nothing: the key names the tenant.
    claimed = await status_of(gateway.ListSubjects(
        pb.ListSubjectsRequest(collection=people), timeout=30,
        metadata=(*OTHER, ("x-tenant-id", "acme"))))
    assert claimed.code() == grpc.StatusCode.NOT_FOUND
    own = await gateway.ListSubjects(pb.ListSubjectsRequest(collection=people), metadata=ACME,
                                     timeout=30)
    assert [s.subject for s in own.subjects] == ["eileen"]


async def test_each_tenant_has_its_own_namespace_and_a_key_is_required(stack):
    gateway = stack.gateway
    mine = await create(gateway, "same-name", FACE, ACME)
    theirs = await create(gateway, "same-name", GENERIC, OTHER)
    assert (mine.kind, theirs.kind) == (FACE, GENERIC)
    unauthenticated = await status_of(gateway.ListCollections(pb.ListCollectionsRequest(),
                                                              timeout=30))
    assert unauthenticated.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_key_bound_to_no_tenant_cannot_use_galleries(stack):
    """It would otherwise share tenant "default" with every other unbound key."""
    refused = await status_of(stack.gateway.ListCollections(
        pb.ListCollectionsRequest(), metadata=(("x-api-key", "key-unbound"),), timeout=30))
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "bound to no tenant" in refused.details()


async def test_without_keys_the_callers_own_tenant_header_is_used(stack, people):
    """A gateway on a trusted network (no keys): x-tenant-id, else "default", as for Analyze."""
    settings = GatewaySettings(port=0, metrics_port=None, backends=stack.backends)
    async with running(GatewayApp(settings), settings) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        gateway = gateway_pb2_grpc.GatewayStub(channel)
        acme = await gateway.GetCollection(pb.GetCollectionRequest(name=people), timeout=30,
                                           metadata=(("x-tenant-id", "acme"),))
        default = await status_of(gateway.GetCollection(pb.GetCollectionRequest(name=people),
                                                        timeout=30))
    assert acme.collection.name == people and default.code() == grpc.StatusCode.NOT_FOUND


async def test_enrolment_refuses_a_too_small_face_and_says_why(stack, people, astronaut_jpeg):
    small = altered(astronaut_jpeg, scale=0.25)
    refused = await status_of(stack.gateway.Enroll(pb.EnrollRequest(
        collection=people, subject="tiny", images=[image(astronaut_jpeg), image(small)]),
        metadata=ACME, timeout=60))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "images[1]: face too small: inter-ocular distance" in refused.details()
    assert "use a larger or closer photo" in refused.details()
    subjects = await stack.gateway.ListSubjects(pb.ListSubjectsRequest(collection=people),
                                                metadata=ACME, timeout=30)
    assert "tiny" not in [s.subject for s in subjects.subjects]  # nothing of the call enrolled
    # Identify answers for the same probe, and reports it unreliable.
    found = await stack.gateway.Identify(pb.IdentifyRequest(collection=people, image=image(small)),
                                         metadata=ACME, timeout=60)
    assert not found.quality.reliable and "face too small" in found.quality.reason
    assert found.quality.inter_ocular_px < BOUNDS.min_inter_ocular_px
    assert found.identity.matches[0].subject == "eileen"


async def test_enrolment_refuses_a_blurred_face(stack, people, astronaut_jpeg):
    blurred = altered(astronaut_jpeg, blur_sigma=6.0)
    refused = await status_of(stack.gateway.Enroll(pb.EnrollRequest(
        collection=people, subject="blurry", images=[image(blurred)]), metadata=ACME, timeout=60))
    assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "face too blurred" in refused.details() and "face too small" not in refused.details()


async def test_bad_gallery_input_is_invalid_argument(stack, people, astronaut_jpeg):
    gateway = stack.gateway
    crop = common_pb2.RawImage(width=32, height=32, rgb=bytes(32 * 32 * 3))
    cases = {
        "not taken by the gateway": gateway.Enroll(pb.EnrollRequest(
            collection=people, subject="x", faces=[crop]), metadata=ACME, timeout=30),
        "no face found": gateway.Identify(pb.IdentifyRequest(
            collection=people, image=image(altered(astronaut_jpeg, scale=0.05))),
            metadata=ACME, timeout=30),
        "image.content is empty": gateway.Verify(pb.VerifyRequest(
            collection=people, subject="eileen"), metadata=ACME, timeout=30),
    }
    for expected, call in cases.items():
        error = await status_of(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and expected in error.details()


async def test_a_generic_collection_takes_the_image_as_is(stack, astronaut_jpeg):
    gateway = stack.gateway
    await create(gateway, "things", GENERIC, ACME)
    enrolled = await gateway.Enroll(pb.EnrollRequest(
        collection="things", subject="poster", images=[image(astronaut_jpeg)]),
        metadata=ACME, timeout=60)
    assert enrolled.enrollment.enrolled == 1 and not enrolled.qualities
    found = await gateway.Identify(pb.IdentifyRequest(collection="things",
                                                      image=image(astronaut_jpeg)),
                                   metadata=ACME, timeout=60)
    assert found.identity.matches[0].subject == "poster" and not found.HasField("quality")


async def test_the_cli_uses_only_the_gateway(stack, astronaut_jpeg, tmp_path, capsys,
                                             monkeypatch):
    """create / enroll / identify --json / verify / list / delete with the key of tenant acme."""
    monkeypatch.setenv("XCLOUD_API_KEY", "key-acme")
    photo, small = tmp_path / "eileen.jpg", tmp_path / "small.jpg"
    photo.write_bytes(astronaut_jpeg)
    small.write_bytes(altered(astronaut_jpeg, scale=0.25))
    gallery = ["--gateway", stack.address, "gallery"]

    async def cli(*argv: str, rc: int = 0) -> str:
        assert await asyncio.to_thread(main, [*gallery, *argv]) == rc
        captured = capsys.readouterr()
        return captured.out if rc == 0 else captured.err

    created = await cli("create", "cli-people", "--kind", "face")
    assert f"face, model {AnimalIdentitySettings().face_model}" in created
    assert "enrolled 1 image(s) of eileen" in await cli("enroll", "cli-people", "eileen",
                                                        str(photo))
    assert "face too small" in await cli("enroll", "cli-people", "x", str(small), rc=1)
    lines = (await cli("identify", "cli-people", str(photo), str(small), "--json")).splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["image"] == str(photo) and first["matches"][0]["subject"] == "eileen"
    assert first["matches"][0]["sameSubject"] is True and first["quality"]["reliable"] is True
    assert second["quality"]["reliable"] is False
    text = await cli("identify", "cli-people", str(photo))
    assert "eileen (distance" in text and "same)" in text
    assert "same subject as eileen" in await cli("verify", "cli-people", "eileen", str(photo))
    assert "cli-people" in await cli("list")
    assert "NOT_FOUND" in await cli("verify", "cli-people", "nobody", str(photo), rc=1)
    assert "deleted collection cli-people" in await cli("delete", "cli-people")


def test_every_forwarded_gallery_rpc_is_a_servicer_method():
    from gateway.gallery import FORWARDED
    from gateway.servicer import GatewayServicer

    for method in FORWARDED:
        assert getattr(GatewayServicer, method).__name__ == method
