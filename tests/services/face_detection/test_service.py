"""The face-detection service over real gRPC: faces, options, bad input, health, reflection,
metrics."""
from __future__ import annotations

import asyncio
import urllib.request

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from tests.support.images import bad_image_cases
from tests.support.servers import health_status, running
from xcloud import names
from xcloud.v1 import common_pb2, common_pb2_grpc, face_detection_pb2_grpc
from xcloud.v1 import face_detection_pb2 as fd

CASES = bad_image_cases()
MAX_MESSAGE = 4 * 1024 * 1024


@pytest.fixture(scope="module")
async def server(detection_models):
    settings = FaceDetectionSettings(port=0, metrics_port=0, max_message_bytes=MAX_MESSAGE,
                                     max_image_bytes=2 * 1024 * 1024, max_batch_size=8)
    async with running(FaceDetectionApp(settings), settings) as live:
        yield live


@pytest.fixture(scope="module")
async def stub(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield face_detection_pb2_grpc.FaceDetectionStub(channel)


def detect_request(content: bytes, **options) -> fd.DetectRequest:
    return fd.DetectRequest(image=common_pb2.Image(content=content),
                            options=fd.DetectOptions(**options))


async def test_finds_the_astronaut_with_sensible_box_and_landmarks(stub, astronaut_jpeg):
    reply = await stub.Detect(detect_request(astronaut_jpeg, aligned_size=112), timeout=30)
    assert (reply.image_width, reply.image_height) == (512, 512)
    assert reply.model.name == "mtcnn" and reply.model.version
    assert len(reply.faces) == 1
    face = reply.faces[0]
    box, marks = face.box, face.landmarks
    assert face.score > 0.95
    assert 150 < box.x_min < box.x_max < 300 and 50 < box.y_min < box.y_max < 250
    # named from the subject's view: her left eye is on the right of the photo
    assert marks.left_eye.x > marks.nose.x > marks.right_eye.x
    assert max(marks.left_eye.y, marks.right_eye.y) < marks.nose.y < marks.mouth_left.y
    for point in (marks.left_eye, marks.right_eye, marks.nose, marks.mouth_left, marks.mouth_right):
        assert box.x_min <= point.x <= box.x_max and box.y_min <= point.y <= box.y_max
    assert (face.aligned.width, face.aligned.height) == (112, 112)
    assert len(face.aligned.rgb) == 112 * 112 * 3


async def test_crops_are_only_sent_when_asked_for(stub, astronaut_jpeg):
    reply = await stub.Detect(detect_request(astronaut_jpeg), timeout=30)
    assert not reply.faces[0].HasField("aligned")


async def test_score_threshold_and_max_faces_are_honoured(stub, astronaut_jpeg):
    strict = await stub.Detect(detect_request(astronaut_jpeg, score_threshold=1.0), timeout=30)
    assert len(strict.faces) == 0
    request = detect_request(astronaut_jpeg, score_threshold=0.01, max_faces=1)
    loose = await stub.Detect(request, timeout=30)
    assert len(loose.faces) == 1


async def test_a_face_larger_than_the_image_allows_finds_nothing(stub, astronaut_jpeg):
    reply = await stub.Detect(detect_request(astronaut_jpeg, min_face_size=600), timeout=30)
    assert len(reply.faces) == 0


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_and_unusual_images_get_the_right_status(server, stub, case):
    if case.code == "OK":
        reply = await stub.Detect(detect_request(case.content), timeout=30)
        assert (reply.image_width, reply.image_height) == case.size
    else:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Detect(detect_request(case.content), timeout=30)
        assert raised.value.code().name == case.code
        assert case.message in raised.value.details().lower()
    assert await health_status(server.address) == "SERVING"


@pytest.mark.parametrize("options, fragment", [
    ({"min_face_size": 2}, "min_face_size"),
    ({"score_threshold": 1.5}, "score_threshold"),
    ({"max_faces": -1}, "max_faces"),
    ({"aligned_size": 100_000}, "aligned_size"),
    ({"model": "yolo"}, "unknown detector"),
])
async def test_invalid_options_are_rejected(stub, astronaut_jpeg, options, fragment):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Detect(detect_request(astronaut_jpeg, **options), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in raised.value.details()


async def test_image_over_the_byte_limit_is_resource_exhausted(stub):
    noise = np.random.default_rng(1).integers(0, 256, 3 * 1024 * 1024, dtype=np.uint8).tobytes()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Detect(detect_request(noise), timeout=30)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "limit" in raised.value.details()


async def test_oversize_message_is_refused_and_server_stays_up(server, stub, astronaut_jpeg):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Detect(detect_request(b"\0" * (MAX_MESSAGE + 1)), timeout=30)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in raised.value.details()
    assert await health_status(server.address, "xcloud.v1.FaceDetection") == "SERVING"
    assert len((await stub.Detect(detect_request(astronaut_jpeg), timeout=30)).faces) == 1


async def test_request_id_is_echoed(stub, astronaut_jpeg):
    call = stub.Detect(detect_request(astronaut_jpeg), metadata=(("x-request-id", "abc123"),),
                       timeout=30)
    await call
    assert ("x-request-id", "abc123") in tuple(await call.initial_metadata())


async def test_reflection_lists_every_service(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request])):
            services = {s.name for s in reply.list_services_response.service}
            break
    expected = {"xcloud.v1.FaceDetection", "xcloud.v1.ModelRepository", "grpc.health.v1.Health"}
    assert expected <= services


async def test_list_models_reports_the_cards(server):
    async with grpc.aio.insecure_channel(server.address) as channel:
        repository = common_pb2_grpc.ModelRepositoryStub(channel)
        reply = await repository.ListModels(common_pb2.ListModelsRequest())
    by_name = {m.model.name: m for m in reply.models}
    assert set(by_name) == {*names.MTCNN, names.BLAZEFACE}
    mtcnn = [by_name[n] for n in names.MTCNN]
    assert all(m.installed and m.model.version and m.license for m in mtcnn)


async def test_metrics_endpoint_has_every_stage(server, stub, astronaut_jpeg):
    await stub.Detect(detect_request(astronaut_jpeg), timeout=30)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Detect(detect_request(b""), timeout=30)
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    for name in ("xcloud_queue_seconds_bucket", "xcloud_preprocess_seconds_bucket",
                 "xcloud_inference_seconds_bucket", "xcloud_postprocess_seconds_bucket",
                 "xcloud_batch_size_bucket", "xcloud_grpc_requests_total",
                 "xcloud_grpc_inflight_requests", "xcloud_model_loaded"):
        assert name in text, name
    refused = ('xcloud_grpc_requests_total{code="INVALID_ARGUMENT",method="Detect",'
               'service="face_detection"}')
    assert refused in text


async def test_an_error_quotes_a_huge_caller_string_only_in_part(server, stub, astronaut_jpeg):
    """Details ride in HTTP/2 trailers: a 100,000-character name echoed whole broke the reply."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.Detect(detect_request(astronaut_jpeg, model="x" * 100_000), timeout=30)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = raised.value.details()
    assert "unknown detector 'xxx" in details and "(100000 characters)" in details
    assert len(details) < 300
    assert await health_status(server.address) == "SERVING"


# Two UTKFace chips (face from hairline to chin) the detector misses without a border.
TIGHT_CHIPS = ("105_1_1_20170112213303693.jpg.chip.jpg", "12_0_0_20170110232735095.jpg.chip.jpg")


@pytest.mark.parametrize("pad_share, found", [(0.1, 1), (0.0, 0)])
async def test_a_face_filling_the_image_is_found_on_a_bordered_copy(
        detection_models, shared_data, pad_share, found):
    """no_face_pad_share: where no face is found, detect again on a bordered copy; 0 keeps the
    old answer. Coordinates are the original image's, inside it."""
    settings = FaceDetectionSettings(port=0, metrics_port=None, no_face_pad_share=pad_share)
    async with (running(FaceDetectionApp(settings), settings) as live,
                grpc.aio.insecure_channel(live.address) as channel):
        stub = face_detection_pb2_grpc.FaceDetectionStub(channel)
        for chip in TIGHT_CHIPS:
            content = (shared_data / "utkface" / "images" / chip).read_bytes()
            reply = await stub.Detect(detect_request(content, aligned_size=112), timeout=60)
            assert len(reply.faces) == found
            for face in reply.faces:
                box, eye = face.box, face.landmarks.left_eye
                assert 0 <= box.x_min < box.x_max <= reply.image_width
                assert 0 <= box.y_min < box.y_max <= reply.image_height
                assert 0 <= eye.x <= reply.image_width and 0 <= eye.y <= reply.image_height
                assert len(face.aligned.rgb) == 112 * 112 * 3
