"""A restarted PostgreSQL under a live identity service: callers get UNAVAILABLE within their
deadline while it is down (never INTERNAL, never a hang), and the first call after it is back
succeeds (pooled connections are checked as they are lent, so the dead ones are replaced)."""
from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from services.animal_identity.app import AnimalIdentityApp
from services.animal_identity.embedded import EmbeddedPostgres
from tests.services.animal_identity.conftest import identity_settings, raw_image
from tests.services.animal_identity.test_durability import kill_postgres
from tests.support.servers import running
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import animal_identity_pb2_grpc, common_pb2

CALL_TIMEOUT_S = 3.0


@pytest.fixture
def own_database(database_dir) -> Iterator[EmbeddedPostgres]:
    database = EmbeddedPostgres(database_dir)
    yield database
    if (database_dir / "postmaster.pid").is_file():
        kill_postgres(database_dir)


async def _listing(stub) -> list[str]:
    reply = await stub.ListCollections(pb.ListCollectionsRequest(), timeout=CALL_TIMEOUT_S)
    return [c.name for c in reply.collections]


@pytest.mark.slow
async def test_a_database_restart_costs_unavailable_then_the_first_call_succeeds(
        identity_models, demo_faces, own_database, database_dir):
    settings = identity_settings(own_database, database_wait_s=30.0)
    async with running(AnimalIdentityApp(settings), settings) as server, \
            grpc.aio.insecure_channel(server.address) as channel:
        stub = animal_identity_pb2_grpc.AnimalIdentityStub(channel)
        await stub.CreateCollection(pb.CreateCollectionRequest(
            name="kept", kind=pb.COLLECTION_KIND_FACE), timeout=60)
        kill_postgres(database_dir)
        for call in (_listing(stub), stub.Enroll(pb.EnrollRequest(
                collection="kept", subject="s", faces=[raw_image(demo_faces[0])]),
                timeout=CALL_TIMEOUT_S)):
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await call
            # the pool wait (30 s here) gives way to the caller's 3 s deadline
            assert failed.value.code() in (grpc.StatusCode.UNAVAILABLE,
                                           grpc.StatusCode.DEADLINE_EXCEEDED)
            assert failed.value.code() != grpc.StatusCode.INTERNAL
        own_database.start()
        assert await _listing(stub) == ["kept"]


async def test_an_enroll_over_the_image_limit_is_refused_before_any_image_is_read(identity_stub):
    # the collection does not exist either: the count is checked first, before any lookup
    request = pb.EnrollRequest(collection="none", subject="s",
                               faces=[common_pb2.RawImage()] * 100_000)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await identity_stub.Enroll(request, timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "100000 images in one call" in refused.value.details()
