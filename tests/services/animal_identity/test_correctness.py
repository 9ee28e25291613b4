"""Issue 14 item 6 over real gRPC and a real PostgreSQL: revisions survive re-creation, and
names no collection or subject can hold are the caller's mistake (INVALID_ARGUMENT)."""
from __future__ import annotations

import grpc
import pytest

from tests.services.animal_identity.conftest import raw_image
from tests.services.animal_identity.test_service import FACE, new_collection, revision_of, status_of
from xcloud.v1 import animal_identity_pb2 as pb


async def test_a_recreated_collection_never_reports_a_revision_of_the_deleted_one(identity_stub,
                                                                                  demo_faces):
    name = await new_collection(identity_stub)
    face = raw_image(demo_faces[0])
    seen = {await revision_of(identity_stub, name)}
    for subject in ("a", "b"):
        await identity_stub.Enroll(pb.EnrollRequest(collection=name, subject=subject, faces=[face]),
                                   timeout=60)
        seen.add(await revision_of(identity_stub, name))
    await identity_stub.DeleteCollection(pb.DeleteCollectionRequest(name=name), timeout=30)
    await identity_stub.CreateCollection(pb.CreateCollectionRequest(name=name, kind=FACE),
                                         timeout=30)
    recreated = [await revision_of(identity_stub, name)]
    for subject in ("a", "b"):  # the same changes again: the old counter would repeat itself
        await identity_stub.Enroll(pb.EnrollRequest(collection=name, subject=subject, faces=[face]),
                                   timeout=60)
        recreated.append(await revision_of(identity_stub, name))
    assert len(seen) == 3 and recreated == sorted(set(recreated))
    assert min(recreated) > max(seen)


BAD_NAMES = ["cows\x00", "a\x07b", "tab\there"]


@pytest.mark.parametrize("bad", BAD_NAMES)
async def test_control_characters_in_names_are_invalid_argument(identity_stub, demo_faces, bad):
    good = await new_collection(identity_stub)
    face = raw_image(demo_faces[0])
    calls = [
        identity_stub.CreateCollection(pb.CreateCollectionRequest(name=bad, kind=FACE)),
        identity_stub.GetCollection(pb.GetCollectionRequest(name=bad)),
        identity_stub.DeleteCollection(pb.DeleteCollectionRequest(name=bad)),
        identity_stub.Enroll(pb.EnrollRequest(collection=bad, subject="s", faces=[face])),
        identity_stub.Identify(pb.IdentifyRequest(collection=bad, face=face)),
        identity_stub.ListSubjects(pb.ListSubjectsRequest(collection=bad)),
        identity_stub.Enroll(pb.EnrollRequest(collection=good, subject=bad, faces=[face])),
        identity_stub.Verify(pb.VerifyRequest(collection=good, subject=bad, face=face)),
        identity_stub.DeleteSubject(pb.DeleteSubjectRequest(collection=good, subject=bad)),
    ]
    for number, call in enumerate(calls):
        assert (number, await status_of(call)) == (number, grpc.StatusCode.INVALID_ARGUMENT)
    # and the service is unharmed: the good collection still answers
    listed = await identity_stub.ListSubjects(pb.ListSubjectsRequest(collection=good), timeout=30)
    assert list(listed.subjects) == []
