"""ANIMAL collections over real gRPC: real cow images, the served model, SIFT re-ranking and
the keypoints table in a real PostgreSQL."""
from __future__ import annotations

import json
import os
from pathlib import Path

import grpc
import psycopg
import pytest

from tests.services.animal_identity.test_service import FACE, new_collection, status_of
from xcloud import names
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import common_pb2

ANIMAL = pb.COLLECTION_KIND_ANIMAL
DATA = Path(os.environ.get("XCLOUD_DATA")
            or Path(__file__).resolve().parents[3].parent / "shared" / "data")
HOLSTEIN = DATA / "holstein2025"
pytestmark = pytest.mark.skipif(not (HOLSTEIN / "gallery").is_dir(),
                                reason=f"holstein2025 not found under {DATA} (set XCLOUD_DATA)")


def images_of(folder: Path) -> dict[str, list[common_pb2.Image]]:
    return {cow.name: [common_pb2.Image(content=p.read_bytes()) for p in sorted(cow.iterdir())]
            for cow in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
async def cow_gallery(identity_stub) -> str:
    """An ANIMAL collection with holstein2025's open-set gallery cows enrolled."""
    name = await new_collection(identity_stub, ANIMAL)
    for cow, images in images_of(HOLSTEIN / "gallery").items():
        request = pb.EnrollRequest(collection=name, subject=cow, images=images)
        reply = await identity_stub.Enroll(request, timeout=120)
        assert reply.enrolled == len(images) and reply.model.name == names.ANIMAL_REID
    return name


async def test_cows_never_seen_in_training_are_identified(identity_stub, cow_gallery,
                                                          identity_models):
    queries = [(cow, images[0]) for cow, images in images_of(HOLSTEIN / "query").items()]
    card = identity_models / names.ANIMAL_REID / "1" / "model.json"
    accept = json.loads(card.read_text())["identity"]["fusion"]["accept"]
    right = within_three = 0
    for cow, image in queries:
        reply = await identity_stub.Identify(pb.IdentifyRequest(collection=cow_gallery, image=image,
                                                                top_k=3), timeout=60)
        assert len(reply.matches) == 3 and reply.model.name == names.ANIMAL_REID
        scores = [m.score for m in reply.matches]
        assert scores == sorted(scores, reverse=True)  # most likely first
        assert all(m.same_subject == (m.score >= accept) for m in reply.matches)
        right += reply.matches[0].subject == cow
        within_three += cow in {m.subject for m in reply.matches}
    # chance is 1/10 and 3/10; the measured open-set rank-1 is in docs/models.md
    assert right >= 4 and within_three >= 7, (
        f"{right}/{len(queries)} right, {within_three} in top 3")


async def test_a_box_crops_the_animal_and_bad_boxes_are_refused(identity_stub, cow_gallery):
    image = images_of(HOLSTEIN / "query")["0001"][0]
    whole = await identity_stub.Identify(pb.IdentifyRequest(collection=cow_gallery, image=image),
                                         timeout=60)
    corner = common_pb2.BoundingBox(x_min=0, y_min=0, x_max=40, y_max=60)
    boxed = await identity_stub.Identify(pb.IdentifyRequest(
        collection=cow_gallery, image=image, box=corner), timeout=60)
    assert [m.distance for m in boxed.matches] != [m.distance for m in whole.matches]
    face = await new_collection(identity_stub, FACE)
    for request in (
        pb.IdentifyRequest(collection=cow_gallery, image=image,
                           box=common_pb2.BoundingBox(x_min=10, y_min=10, x_max=5, y_max=50)),
        pb.IdentifyRequest(collection=cow_gallery, image=image,
                           box=common_pb2.BoundingBox(x_min=0, y_min=0, x_max=8, y_max=8)),
        pb.IdentifyRequest(collection=face, image=image,
                           box=common_pb2.BoundingBox(x_min=0, y_min=0, x_max=40, y_max=60)),
    ):
        status = await status_of(identity_stub.Identify(request, timeout=30))
        assert status == grpc.StatusCode.INVALID_ARGUMENT
    two = pb.EnrollRequest(collection=cow_gallery, subject="x", images=[image, image],
                           boxes=[common_pb2.BoundingBox(x_min=0, y_min=0, x_max=40, y_max=60)])
    status = await status_of(identity_stub.Enroll(two, timeout=30))
    assert status == grpc.StatusCode.INVALID_ARGUMENT


def keypoints_table(url: str, name: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM gallery_collections "
                           "WHERE tenant = 'default' AND name = %s", (name,)).fetchone()
    return f"gallery_keypoints_{row[0]}"


def keypoint_rows(url: str, table: str) -> int | None:
    """Rows of a keypoints table; None when the table does not exist."""
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            return None
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def test_keypoints_are_stored_per_image_and_deleted_with_subject_and_collection(
        identity_stub, gallery_database):
    name = await new_collection(identity_stub, ANIMAL)
    cows = images_of(HOLSTEIN / "gallery")
    first, second = sorted(cows)[:2]
    for cow in (first, second):
        await identity_stub.Enroll(pb.EnrollRequest(collection=name, subject=cow, images=cows[cow]),
                                   timeout=120)
    table = keypoints_table(gallery_database.url, name)
    assert keypoint_rows(gallery_database.url, table) == len(cows[first]) + len(cows[second])
    await identity_stub.DeleteSubject(pb.DeleteSubjectRequest(collection=name, subject=first),
                                      timeout=30)
    assert keypoint_rows(gallery_database.url, table) == len(cows[second])
    await identity_stub.DeleteCollection(pb.DeleteCollectionRequest(name=name), timeout=30)
    assert keypoint_rows(gallery_database.url, table) is None
