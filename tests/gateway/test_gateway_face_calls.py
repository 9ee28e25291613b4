"""One backend call per Analyze for every face: batched per-face tasks against real loopback
FaceAttributes / Expression servers that count the calls they get."""
from __future__ import annotations

import pytest
import redis.asyncio

from services.runtime.alignment import SHARED_CROP_MARGIN
from tests.gateway.conftest import started_servers
from tests.gateway.helpers import free_port
from tests.gateway.loopback_backends import CountingDetectionBackend
from tests.gateway.loopback_face_backends import (
    NOT_INSTALLED,
    CountingExpressionBackend,
    CountingFaceAttributesBackend,
    serve_face_backend,
)
from xcloud.v1 import common_pb2, face_detection_pb2, gateway_cache_pb2, gateway_pb2
from xcloud.v1 import face_attributes_pb2 as fa

OK = common_pb2.STATUS_CODE_OK
FACE_TASKS = ["attributes", "embedding", "expression"]


@pytest.fixture
async def start_face_backend():
    async with started_servers(serve_face_backend) as start:
        yield start


@pytest.fixture
async def stack(start_backend, start_face_backend, start_gateway):
    """start(faces=3, **gateway settings) -> (gateway, detector, attributes, expression)."""

    async def start(faces: int = 3, **settings):
        detector = CountingDetectionBackend(faces=faces)
        attributes, expression = CountingFaceAttributesBackend(), CountingExpressionBackend()
        gateway = await start_gateway({
            "face_detection": await start_backend(detector),
            "face_attributes": await start_face_backend(attributes),
            "expression": await start_face_backend(expression),
        }, **settings)
        return gateway, detector, attributes, expression

    return start


async def analyze(gateway, tasks, mode: int = 0, no_cache: bool = False):
    request = gateway_pb2.AnalyzeRequest(
        image=common_pb2.Image(content=b"loopback image"), tasks=tasks,
        options=gateway_pb2.AnalyzeOptions(attributes_mode=mode, no_cache=no_cache))
    return await gateway.stub.Analyze(request, timeout=30)


async def test_every_face_and_task_is_one_call_per_backend(stack):
    gateway, detector, attributes, expression = await stack(faces=3)
    reply = await analyze(gateway, FACE_TASKS)
    assert detector.calls == 1
    assert attributes.calls() == 1 and len(expression.requests) == 1
    (method, request), = attributes.requests
    assert method == "Predict" and request.with_embedding and len(request.faces) == 3
    assert [f.rgb[0] for f in request.faces] == [1, 2, 3]  # face order is kept
    assert {(f.width, f.height) for f in request.faces} == {(224, 224)}
    assert len(expression.requests[0].faces) == 3
    assert [f.attributes.age.years for f in reply.faces] == [1, 2, 3]
    assert [f.embedding.values[0] for f in reply.faces] == [1, 2, 3]
    assert [f.expression.probability for f in reply.faces] == pytest.approx([0.1, 0.2, 0.3])
    statuses = {s.task: s for s in reply.statuses}
    assert all(statuses[t].code == OK for t in FACE_TASKS), reply.statuses
    assert statuses["embedding"].model.name == "loopback_attributes"
    assert statuses["expression"].model.name == "loopback_expression"
    again = await analyze(gateway, FACE_TASKS)
    assert all(s.cached for s in again.statuses) and attributes.calls() == 1
    assert [f.embedding.values[0] for f in again.faces] == [1, 2, 3]


async def test_a_task_not_cached_is_asked_for_alone(stack):
    gateway, _, attributes, _ = await stack(faces=2)
    await analyze(gateway, ["attributes"])
    assert [(m, r.with_embedding) for m, r in attributes.requests] == [("Predict", False)]
    reply = await analyze(gateway, ["attributes", "embedding"])
    statuses = {s.task: s for s in reply.statuses}
    assert statuses["attributes"].cached and not statuses["embedding"].cached
    assert [m for m, _ in attributes.requests] == ["Predict", "Embed"]
    assert [f.rgb[0] for f in attributes.requests[1][1].faces] == [1, 2]
    assert [f.embedding.values[0] for f in reply.faces] == [1, 2]


async def test_the_accurate_mode_reaches_the_backend_and_keys_the_cache(stack):
    gateway, _, attributes, _ = await stack(faces=2)
    fast = await analyze(gateway, ["attributes", "embedding"])
    accurate = await analyze(gateway, ["attributes", "embedding"],
                             mode=fa.FACE_ATTRIBUTES_MODE_ACCURATE)
    assert [r.mode for _, r in attributes.requests] == [0, fa.FACE_ATTRIBUTES_MODE_ACCURATE]
    assert [f.attributes.age.years for f in fast.faces] == [1, 2]
    assert [f.attributes.age.years for f in accurate.faces] == [1.5, 2.5]
    assert not any(s.cached for s in accurate.statuses)


async def test_an_embedding_not_installed_fails_only_its_task(start_backend, start_face_backend,
                                                              start_gateway):
    attributes = CountingFaceAttributesBackend(embedding_installed=False)
    gateway = await start_gateway({
        "face_detection": await start_backend(CountingDetectionBackend(faces=2)),
        "face_attributes": await start_face_backend(attributes)})
    reply = await analyze(gateway, ["attributes", "embedding"])
    statuses = {s.task: s for s in reply.statuses}
    assert statuses["attributes"].code == OK
    assert statuses["embedding"].code == NOT_INSTALLED
    assert "not installed" in statuses["embedding"].message
    assert [f.attributes.age.years for f in reply.faces] == [1, 2]
    assert not any(f.HasField("embedding") for f in reply.faces)
    assert attributes.calls() == 1


async def test_the_shared_call_is_capped_at_max_faces(stack):
    gateway, _, attributes, expression = await stack(faces=3, max_faces=2)
    reply = await analyze(gateway, FACE_TASKS)
    assert len(attributes.requests[0][1].faces) == 2 and len(expression.requests[0].faces) == 2
    assert len(reply.faces) == 3
    assert [f.attributes.age.years for f in reply.faces] == [1, 2, 0]
    assert all("first 2 of 3" in s.message for s in reply.statuses)


async def test_no_face_means_no_backend_call(stack):
    gateway, _, attributes, expression = await stack(faces=0)
    reply = await analyze(gateway, FACE_TASKS)
    assert attributes.calls() == 0 and not expression.requests
    assert [s.code for s in reply.statuses] == [OK] * 3 and not reply.faces


async def test_a_backend_down_fails_its_tasks_not_the_others(start_backend, start_face_backend,
                                                            start_gateway):
    expression = CountingExpressionBackend()
    gateway = await start_gateway({
        "face_detection": await start_backend(CountingDetectionBackend(faces=2)),
        "face_attributes": f"127.0.0.1:{free_port()}",
        "expression": await start_face_backend(expression)})
    reply = await analyze(gateway, FACE_TASKS)
    codes = {s.task: s.code for s in reply.statuses}
    assert codes == {"attributes": common_pb2.STATUS_CODE_UNAVAILABLE,
                     "embedding": common_pb2.STATUS_CODE_UNAVAILABLE, "expression": OK}


async def test_cached_detection_keeps_no_crops_and_crops_are_made_again_when_needed(
        stack, redis_process):
    gateway, detector, attributes, _ = await stack(faces=2, redis_url=redis_process.url)
    await analyze(gateway, ["detection", "attributes"])
    client = redis.asyncio.Redis.from_url(redis_process.url)
    try:
        (key,) = [k async for k in client.scan_iter(match="xcloud:gateway:v2:detection:*")]
        entry = gateway_cache_pb2.CacheEntry.FromString(await client.get(key))
        stored = gateway_pb2.AnalyzeResponse.FromString(entry.fragment)
    finally:
        await client.aclose()
    assert len(stored.faces) == 2 and not any(f.face.HasField("aligned") for f in stored.faces)
    assert detector.calls == 1
    # detection is a cache hit, the embedding is not: one Detect makes the crops again
    reply = await analyze(gateway, ["detection", "attributes", "embedding"])
    statuses = {s.task: s for s in reply.statuses}
    assert statuses["detection"].cached and statuses["attributes"].cached
    assert not statuses["embedding"].cached and statuses["embedding"].code == OK
    assert detector.calls == 2
    assert [f.embedding.values[0] for f in reply.faces] == [1, 2]
    # everything cached: neither detection nor a backend is called
    await analyze(gateway, ["detection", "attributes", "embedding"])
    assert detector.calls == 2 and attributes.calls() == 2


async def test_a_caller_asking_for_crops_never_reads_an_entry_without(stack):
    gateway, detector, _, _ = await stack(faces=2)
    await analyze(gateway, ["detection", "attributes"])  # cached without crops
    request = gateway_pb2.AnalyzeRequest(
        image=common_pb2.Image(content=b"loopback image"), tasks=["detection"],
        options=gateway_pb2.AnalyzeOptions(detection=face_detection_pb2.DetectOptions(
            aligned_size=224, aligned_margin=SHARED_CROP_MARGIN)))
    reply = await gateway.stub.Analyze(request, timeout=30)
    assert [f.face.aligned.rgb[0] for f in reply.faces] == [1, 2]
    assert detector.calls == 2
    again = await gateway.stub.Analyze(request, timeout=30)
    assert again.statuses[0].cached and [f.face.aligned.width for f in again.faces] == [224, 224]
