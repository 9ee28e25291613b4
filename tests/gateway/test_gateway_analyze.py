"""Analyze against loopback backends: caching, single-flight, fan-out, merging."""
from __future__ import annotations

import asyncio

import grpc
import pytest

from gateway.tasks import Scope, TaskSpec, default_registry, into_field, unary
from tests.gateway.helpers import free_port, metric
from tests.gateway.loopback_backends import (
    CROP_SCORER_METHOD,
    CountingDetectionBackend,
    CropScoringBackend,
    FailingDetectionBackend,
)
from xcloud.v1 import common_pb2, face_detection_pb2

OK = common_pb2.STATUS_CODE_OK


def scorer_registry(side: int = 32):
    """The default tasks plus a test-only per-face task served by CropScoringBackend."""
    registry = default_registry()
    registry.register(TaskSpec(
        name="crop_score", backend="crop_scorer", scope=Scope.PER_FACE,
        call=unary(CROP_SCORER_METHOD, lambda crop, options: crop, common_pb2.Face),
        merge=into_field("face"), aligned_size=side,
    ))
    return registry


async def test_second_identical_call_is_a_cache_hit(start_backend, start_gateway):
    backend = CountingDetectionBackend(faces=2)
    gateway = await start_gateway({"face_detection": await start_backend(backend)})
    hits = metric("xcloud_gateway_cache_requests_total", task="detection", result="hit")
    first = await gateway.analyze(["detection"])
    second = await gateway.analyze(["detection"])
    assert backend.calls == 1
    assert [s.cached for s in (first.statuses[0], second.statuses[0])] == [False, True]
    assert second.statuses[0].code == OK
    assert second.statuses[0].model.name == "loopback_detector"
    assert list(second.faces) == list(first.faces) and len(first.faces) == 2
    assert (second.image_width, second.image_height) == (640, 480)
    assert metric("xcloud_gateway_cache_requests_total", task="detection", result="hit") == hits + 1


async def test_different_options_use_different_keys(start_backend, start_gateway):
    backend = CountingDetectionBackend()
    gateway = await start_gateway({"face_detection": await start_backend(backend)})
    await gateway.analyze(detection=face_detection_pb2.DetectOptions(score_threshold=0.5))
    await gateway.analyze(detection=face_detection_pb2.DetectOptions(score_threshold=0.8))
    await gateway.analyze(detection=face_detection_pb2.DetectOptions(score_threshold=0.8))
    await gateway.analyze(image=b"another image")
    assert backend.calls == 3
    assert [r.options.score_threshold for r in backend.requests[:2]] == pytest.approx([0.5, 0.8])


async def test_no_cache_skips_the_lookup_but_still_writes(start_backend, start_gateway):
    backend = CountingDetectionBackend()
    gateway = await start_gateway({"face_detection": await start_backend(backend)})
    await gateway.analyze()
    fresh = await gateway.analyze(no_cache=True)
    assert backend.calls == 2 and not fresh.statuses[0].cached
    assert (await gateway.analyze()).statuses[0].cached


async def test_concurrent_identical_calls_run_the_backend_once(start_backend, start_gateway):
    backend = CountingDetectionBackend(faces=3, gate=asyncio.Event())
    gateway = await start_gateway({"face_detection": await start_backend(backend)})
    shared = metric("xcloud_gateway_singleflight_shared_total", task="detection")
    calls = [asyncio.ensure_future(gateway.analyze(["detection"])) for _ in range(20)]
    # The backend holds the first call until the other 19 have joined it.
    while metric("xcloud_gateway_singleflight_shared_total", task="detection") < shared + 19:
        assert not any(c.done() for c in calls), [c.exception() for c in calls if c.done()]
        await asyncio.sleep(0.01)
    backend.gate.set()
    responses = await asyncio.gather(*calls)
    assert backend.calls == 1
    assert all(len(r.faces) == 3 and r.statuses[0].code == OK for r in responses), responses[0]


async def test_new_model_version_misses_the_cache(start_backend, start_gateway):
    backend = CountingDetectionBackend()
    gateway = await start_gateway({"face_detection": await start_backend(backend)},
                                  model_version_ttl_s=0.0)
    await gateway.analyze()
    assert (await gateway.analyze()).statuses[0].cached
    backend.version = "2"
    after = await gateway.analyze()
    assert backend.calls == 2
    assert not after.statuses[0].cached and after.statuses[0].model.version == "2"


async def test_unknown_task_is_invalid_argument(start_backend, start_gateway):
    address = await start_backend(CountingDetectionBackend())
    gateway = await start_gateway({"face_detection": address})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.analyze(["detection", "horoscope"])
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'horoscope'" in caught.value.details() and "detection" in caught.value.details()


async def test_empty_image_is_invalid_argument(start_backend, start_gateway):
    backend = CountingDetectionBackend()
    gateway = await start_gateway({"face_detection": await start_backend(backend)})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.analyze(image=b"")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert backend.calls == 0


@pytest.mark.parametrize("code", [grpc.StatusCode.INVALID_ARGUMENT,
                                  grpc.StatusCode.RESOURCE_EXHAUSTED])
async def test_input_rejected_by_detection_fails_the_whole_call(start_backend, start_gateway, code):
    backend = FailingDetectionBackend([code], message="cannot decode image")
    gateway = await start_gateway({"face_detection": await start_backend(backend)})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await gateway.analyze()
    assert caught.value.code() == code
    assert caught.value.details() == "cannot decode image"


async def test_empty_task_list_runs_every_configured_task(start_backend, start_gateway):
    address = await start_backend(CountingDetectionBackend())
    gateway = await start_gateway({"face_detection": address})
    response = await gateway.analyze([], metadata=[("x-request-id", "req-42")])
    assert [s.task for s in response.statuses] == ["detection"]
    assert response.request_id == "req-42"


async def test_per_face_task_fans_out_over_aligned_crops(start_backend, start_gateway):
    detector, scorer = CountingDetectionBackend(faces=3), CropScoringBackend()
    gateway = await start_gateway(
        {"face_detection": await start_backend(detector),
         "crop_scorer": await start_backend(scorer)},
        registry=scorer_registry(side=32),
    )
    response = await gateway.analyze(["crop_score"])
    assert detector.calls == 1 and detector.requests[0].options.aligned_size == 32
    assert len(scorer.crops) == 3
    assert {(c.width, c.height) for c in scorer.crops} == {(32, 32)}
    # Each face got its own crop's answer, and crops are not returned unless asked for.
    assert [f.face.score for f in response.faces] == [1.0, 2.0, 3.0]
    assert not any(f.face.HasField("aligned") for f in response.faces)
    # Face answers carry no ModelInfo, so the status names none.
    assert [(s.task, s.code, s.model.name) for s in response.statuses] == [("crop_score", OK, "")]
    again = await gateway.analyze(["crop_score"])
    assert again.statuses[0].cached and len(scorer.crops) == 3
    assert [f.face.score for f in again.faces] == [1.0, 2.0, 3.0]


async def test_crops_come_at_the_size_each_consumer_asked_for(start_backend, start_gateway):
    detector, scorer = CountingDetectionBackend(faces=2), CropScoringBackend()
    gateway = await start_gateway(
        {"face_detection": await start_backend(detector),
         "crop_scorer": await start_backend(scorer)},
        registry=scorer_registry(side=32),
    )
    response = await gateway.analyze(
        ["detection", "crop_score"], detection=face_detection_pb2.DetectOptions(aligned_size=48)
    )
    assert detector.calls == 1 and detector.requests[0].options.aligned_size == 48
    assert {(c.width, c.height) for c in scorer.crops} == {(32, 32)}
    assert {(f.face.aligned.width, len(f.face.aligned.rgb)) for f in response.faces} == {
        (48, 48 * 48 * 3)
    }
    assert [s.task for s in response.statuses] == ["detection", "crop_score"]


async def test_fan_out_is_capped_at_max_faces(start_backend, start_gateway):
    detector, scorer = CountingDetectionBackend(faces=3), CropScoringBackend()
    gateway = await start_gateway(
        {"face_detection": await start_backend(detector),
         "crop_scorer": await start_backend(scorer)},
        registry=scorer_registry(), max_faces=2,
    )
    response = await gateway.analyze(["crop_score"])
    assert len(scorer.crops) == 2 and len(response.faces) == 3
    assert [f.face.score for f in response.faces] == pytest.approx([1.0, 2.0, 0.99])
    assert "first 2 of 3" in response.statuses[0].message


async def test_per_face_backend_down_gives_a_partial_answer(start_backend, start_gateway):
    detector = CountingDetectionBackend(faces=2)
    gateway = await start_gateway(
        {"face_detection": await start_backend(detector),
         "crop_scorer": f"127.0.0.1:{free_port()}"},
        registry=scorer_registry(),
    )
    response = await gateway.analyze(["detection", "crop_score"])
    codes = {s.task: s.code for s in response.statuses}
    assert codes == {"detection": OK, "crop_score": common_pb2.STATUS_CODE_UNAVAILABLE}
    assert len(response.faces) == 2
    assert metric("xcloud_gateway_tasks_total", task="crop_score", code="UNAVAILABLE") >= 1


async def test_per_face_task_reports_why_detection_failed(start_backend, start_gateway):
    detector = FailingDetectionBackend([grpc.StatusCode.FAILED_PRECONDITION], "not installed")
    gateway = await start_gateway(
        {"face_detection": await start_backend(detector),
         "crop_scorer": await start_backend(CropScoringBackend())},
        registry=scorer_registry(),
    )
    response = await gateway.analyze(["crop_score"])
    status = response.statuses[0]
    assert status.code == common_pb2.STATUS_CODE_FAILED_PRECONDITION
    assert "detection" in status.message and "not installed" in status.message
