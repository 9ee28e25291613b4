"""Acknowledged enrolments survive SIGKILL: of the service, and of its embedded database too.

The service runs as a real process (``python -m services.animal_identity``) on an embedded
PostgreSQL in a temporary data directory; nothing is stopped cleanly before the restart.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest

from tests.services.animal_identity.conftest import raw_image
from tests.support.service_process import ServiceProcess
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import animal_identity_pb2_grpc

SUBJECTS = 20


def identity_process(data_dir: Path) -> ServiceProcess:
    return ServiceProcess("animal_identity", data_dir=data_dir, max_batch_size=2)


def kill_postgres(data_dir: Path) -> None:
    """SIGKILL the postmaster (as a power cut would) and wait until its backends are gone."""
    postmaster = psutil.Process(int((data_dir / "postmaster.pid").read_text().split()[0]))
    family = [postmaster, *postmaster.children(recursive=True)]
    postmaster.kill()
    psutil.wait_procs(family, timeout=30)


@pytest.fixture
def data_dir(database_dir) -> Iterator[Path]:
    yield database_dir
    if (database_dir / "postmaster.pid").is_file():
        kill_postgres(database_dir)


async def enrol_all(address: str, faces: list) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = animal_identity_pb2_grpc.AnimalIdentityStub(channel)
        kept = pb.CreateCollectionRequest(name="kept", kind=pb.COLLECTION_KIND_FACE)
        await stub.CreateCollection(kept, timeout=60)
        await asyncio.gather(*(stub.Enroll(pb.EnrollRequest(
            collection="kept", subject=f"s{i:02d}", faces=[raw_image(faces[i % len(faces)])]),
            timeout=120) for i in range(SUBJECTS)))


async def subjects_of(address: str) -> list[str]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = animal_identity_pb2_grpc.AnimalIdentityStub(channel)
        reply = await stub.ListSubjects(pb.ListSubjectsRequest(collection="kept"), timeout=60)
    return [s.subject for s in reply.subjects]


@pytest.mark.slow
async def test_acknowledged_enrolments_survive_sigkill(identity_models, demo_faces, data_dir):
    service = identity_process(data_dir)
    try:
        await enrol_all(service.address, demo_faces)
    finally:
        service.kill()  # right after the last acknowledgement, no clean shutdown
    kill_postgres(data_dir)
    restarted = identity_process(data_dir)
    try:
        assert await subjects_of(restarted.address) == [f"s{i:02d}" for i in range(SUBJECTS)]
    finally:
        restarted.kill()


async def enrol_until_killed(service: ServiceProcess, faces: list, kill_after: int) -> set[str]:
    """Concurrent enrolments; SIGKILL of the service and its database once ``kill_after`` are
    acknowledged, with the rest still in flight. Returns the acknowledged subjects."""
    acknowledged: set[str] = set()

    async def enrol(stub, i: int) -> None:
        subject = f"s{i:02d}"
        try:
            await stub.Enroll(pb.EnrollRequest(collection="kept", subject=subject,
                                               faces=[raw_image(faces[i % len(faces)])]),
                              timeout=120)
        except grpc.aio.AioRpcError:
            return  # never acknowledged: may or may not be stored
        acknowledged.add(subject)
        if len(acknowledged) == kill_after:
            service.kill()
            kill_postgres(service_data_dir(service))

    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = animal_identity_pb2_grpc.AnimalIdentityStub(channel)
        await stub.CreateCollection(pb.CreateCollectionRequest(
            name="kept", kind=pb.COLLECTION_KIND_FACE), timeout=60)
        await asyncio.gather(*(enrol(stub, i) for i in range(SUBJECTS)))
    return acknowledged


def service_data_dir(service: ServiceProcess) -> Path:
    return Path(service.settings["data_dir"])


@pytest.mark.slow
async def test_enrolments_acknowledged_before_a_sigkill_mid_load_survive_it(
        identity_models, demo_faces, data_dir):
    service = identity_process(data_dir)
    try:
        acknowledged = await enrol_until_killed(service, demo_faces, kill_after=SUBJECTS // 2)
    finally:
        service.kill()
    assert len(acknowledged) >= SUBJECTS // 2
    restarted = identity_process(data_dir)
    try:
        assert acknowledged <= set(await subjects_of(restarted.address))
    finally:
        restarted.kill()
