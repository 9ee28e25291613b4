"""The face-detection service over real gRPC: faces, options, bad input, health, reflection,
metrics."""
from __future__ import annotations

import asyncio
import io
import urllib.request

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from PIL import Image

from services.face_detection import converters
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


# A face filling the image: the astronaut cut to the box the detector gives her on the whole
# photo, and 5 % tighter (chin and hairline cut, as on UTKFace's and LFW's chips).
INSETS = (0.0, 0.05)


def cut(jpeg: bytes, box: common_pb2.BoundingBox, inset: float) -> tuple[bytes, np.ndarray]:
    """PNG of the photo cut to ``box`` shrunk by ``inset`` of its size per side, and the cut's
    top-left corner in the photo."""
    width, height = box.x_max - box.x_min, box.y_max - box.y_min
    left, top = int(box.x_min + inset * width), int(box.y_min + inset * height)
    right, bottom = int(box.x_max - inset * width), int(box.y_max - inset * height)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).crop((left, top, right, bottom)).save(buffer, format="PNG")
    return buffer.getvalue(), np.array([left, top], np.float32)


def eye_error(face: common_pb2.Face, eyes: np.ndarray) -> float:
    """Mean distance of the face's eyes to ``eyes`` (2, 2), over the distance between them."""
    got = converters.landmarks_from_proto(face.landmarks)[:2]
    return float(np.linalg.norm(got - eyes, axis=1).mean() / np.linalg.norm(eyes[0] - eyes[1]))


@pytest.fixture(scope="module")
async def tight_chips(stub, astronaut_jpeg) -> list[tuple[bytes, np.ndarray]]:
    """Each chip's bytes and where the whole photo's detection puts her eyes in it."""
    face = (await stub.Detect(detect_request(astronaut_jpeg), timeout=30)).faces[0]
    eyes = converters.landmarks_from_proto(face.landmarks)[:2]
    chips = [cut(astronaut_jpeg, face.box, inset) for inset in INSETS]
    return [(content, eyes - corner) for content, corner in chips]


async def detect_with_pad_share(share: float, contents: list[bytes]) -> list[fd.DetectResponse]:
    settings = FaceDetectionSettings(port=0, metrics_port=None, tight_face_pad_share=share)
    async with (running(FaceDetectionApp(settings), settings) as live,
                grpc.aio.insecure_channel(live.address) as channel):
        stub = face_detection_pb2_grpc.FaceDetectionStub(channel)
        return [await stub.Detect(detect_request(c, aligned_size=112), timeout=60)
                for c in contents]


async def test_a_face_filling_the_image_is_found_and_placed_on_a_bordered_copy(tight_chips):
    replies = await detect_with_pad_share(0.25, [content for content, _ in tight_chips])
    for reply in replies:
        assert len(reply.faces) == 1
        face = reply.faces[0]
        box, marks = face.box, converters.landmarks_from_proto(face.landmarks)
        # the original image's coordinates, inside it: never the border's
        assert 0 <= box.x_min < box.x_max <= reply.image_width
        assert 0 <= box.y_min < box.y_max <= reply.image_height
        assert (marks >= 0).all() and (marks <= (reply.image_width, reply.image_height)).all()
        assert len(face.aligned.rgb) == 112 * 112 * 3
    # On the chip cut to her box, her eyes are where the whole photo puts them.
    assert eye_error(replies[0].faces[0], tight_chips[0][1]) < 0.05


async def test_a_pad_share_of_zero_keeps_the_first_looks_answer(tight_chips):
    cut_to_box, tighter = await detect_with_pad_share(0.0, [c for c, _ in tight_chips])
    assert len(tighter.faces) == 0
    face = cut_to_box.faces[0]
    # The box runs off the image unclipped and the eyes land on her forehead, as before.
    assert min(face.box.x_min, face.box.y_min) < 0
    assert eye_error(face, tight_chips[0][1]) > 0.1
