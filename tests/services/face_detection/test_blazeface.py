"""BlazeFace: anchors and decoding by hand, then the real model in the service over real gRPC."""
from __future__ import annotations

import asyncio
import io
from pathlib import Path

import grpc
import numpy as np
import pytest
from PIL import Image

from models.build import REPOSITORY
from models.build import main as build_models
from services.face_detection import blazeface as bf
from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from tests.support.servers import running
from xcloud import names
from xcloud.v1 import common_pb2, face_detection_pb2_grpc
from xcloud.v1 import face_detection_pb2 as fd


def test_anchors_follow_the_two_grids_in_output_order() -> None:
    anchors = bf.anchor_centres()
    assert anchors.shape == (896, 2)
    assert anchors[:3].tolist() == [[8, 8], [8, 8], [24, 8]]  # 2 per 16 px cell, x runs first
    assert anchors[32].tolist() == [8, 24]  # second row of the 16x16 grid
    assert anchors[512:519].tolist() == [[16, 16]] * 6 + [[48, 16]]  # 6 per 32 px cell
    assert anchors[-1].tolist() == [240, 240]


def one_face_rows(anchor: int, logit: float = 5.0) -> np.ndarray:
    rows = np.full((896, 17), 0.0, np.float32)
    rows[:, 0] = -20.0
    rows[anchor] = [logit, 2, -1, 40, 60, -10, -8, 10, -8, 0, 4, 0, 14, -18, 0, 18, 0]
    return rows


def test_decode_maps_offsets_from_the_anchor_into_image_pixels() -> None:
    scale = np.array([2.0, 3.0], np.float32)
    scores, boxes, points = bf.decode(one_face_rows(600), scale)
    cx, cy = bf.ANCHORS[600] + [2, -1]
    assert scores[600] == pytest.approx(1 / (1 + np.exp(-5)))
    expected = [(cx - 20) * 2, (cy - 30) * 3, (cx + 20) * 2, (cy + 30) * 3]
    np.testing.assert_allclose(boxes[600], expected)
    np.testing.assert_allclose(points[600, 0], (bf.ANCHORS[600] + [-10, -8]) * scale)


def test_scores_do_not_overflow_on_extreme_logits() -> None:
    rows = one_face_rows(0)
    rows[1, 0], rows[2, 0] = -1.2e4, 1.2e4
    with np.errstate(over="raise", invalid="raise"):
        scores = bf.decode(rows, np.ones(2, np.float32))[0]
    assert scores[1] < 1e-30 and scores[2] == 1.0


def test_weighted_nms_averages_a_cluster_by_score_and_keeps_others_apart() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [5, 5, 5, 5]], np.float32)
    scores = np.array([0.9, 0.3, 0.8, 0.95], np.float32)
    points = np.repeat(boxes[:, None, :2], 6, axis=1)
    clusters = bf.weighted_nms(scores, boxes, points, 0.3)
    assert [round(c[0], 2) for c in clusters] == [0.95, 0.9, 0.8]  # the degenerate box stands alone
    _, box, marks = clusters[1]
    np.testing.assert_allclose(box, [0.25, 0, 10.25, 10])  # (0.9 * 0 + 0.3 * 1) / 1.2
    np.testing.assert_allclose(marks[0], [0.25, 0])


def test_landmarks_are_in_subject_order_with_estimated_mouth_corners() -> None:
    # A face rolled by 90 degrees: the eye axis points down the image.
    keypoints = np.array([[100, 80], [100, 120], [120, 100], [140, 100], [0, 0], [0, 0]],
                         np.float32)
    left_eye, right_eye, nose, mouth_left, mouth_right = bf.subject_landmarks(keypoints)
    assert left_eye.tolist() == [100, 120] and right_eye.tolist() == [100, 80]
    assert nose.tolist() == [120, 100]
    # corners on either side of the mouth centre, along the eye axis, about 0.41 IOD apart each way
    np.testing.assert_allclose(mouth_left, [140, 100 + 40 * bf.MOUTH_HALF_WIDTH], rtol=1e-6)
    np.testing.assert_allclose(mouth_right, [140, 100 - 40 * bf.MOUTH_HALF_WIDTH], rtol=1e-6)
    assert 0.38 < bf.MOUTH_HALF_WIDTH < 0.44


def test_input_keeps_the_aspect_top_left_and_pads_black() -> None:
    rgb = np.full((100, 400, 3), 255, np.uint8)
    tensor, scale = bf.input_tensor(rgb)
    assert tensor.shape == (256, 256, 3) and tensor.dtype == np.float32
    assert tensor[:64].min() == 1.0 and tensor[64:].max() == -1.0
    np.testing.assert_allclose(scale, [400 / 256, 100 / 64])


async def test_detector_filters_by_score_size_and_count() -> None:
    rows = one_face_rows(600)
    rows[100] = one_face_rows(100, logit=1.0)[100]  # score 0.73, elsewhere

    async def infer(model: str, batch: np.ndarray) -> list[np.ndarray]:
        assert model == names.BLAZEFACE and batch.shape == (1, 256, 256, 3)
        return [rows[None]]

    detector = bf.BlazeFaceDetector(infer)
    image = np.zeros((256, 256, 3), np.uint8)
    assert len(await detector.detect(image, bf.BlazeFaceParams(score_threshold=0.5))) == 2
    one = bf.BlazeFaceParams(score_threshold=0.5, max_faces=1)
    assert len(await detector.detect(image, one)) == 1
    assert len(await detector.detect(image)) == 1  # default threshold 0.75
    assert await detector.detect(image, bf.BlazeFaceParams(min_face_size=61)) == []


@pytest.fixture(scope="module")
def blazeface_model(detection_models) -> Path:
    if not (REPOSITORY / names.BLAZEFACE / "1" / "model.onnx").is_file():
        build_models([names.BLAZEFACE])
    return REPOSITORY


@pytest.fixture(scope="module")
async def stub(blazeface_model):
    settings = FaceDetectionSettings(port=0, metrics_port=None, max_batch_size=4)
    async with running(FaceDetectionApp(settings), settings) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        yield face_detection_pb2_grpc.FaceDetectionStub(channel)


def detect_request(content: bytes, **options) -> fd.DetectRequest:
    return fd.DetectRequest(image=common_pb2.Image(content=content),
                            options=fd.DetectOptions(**options))


async def test_finds_the_astronaut_with_landmarks_in_subject_order(stub, astronaut_jpeg) -> None:
    request = detect_request(astronaut_jpeg, model=names.BLAZEFACE, aligned_size=112)
    reply = await stub.Detect(request, timeout=30)
    assert reply.model.name == names.BLAZEFACE and reply.model.version == "1"
    assert len(reply.faces) == 1
    face = reply.faces[0]
    box, marks = face.box, face.landmarks
    assert 0.75 < face.score <= 1.0
    assert 150 < box.x_min < box.x_max < 300 and 50 < box.y_min < box.y_max < 250
    assert marks.left_eye.x > marks.nose.x > marks.right_eye.x  # her left eye: image right
    assert max(marks.left_eye.y, marks.right_eye.y) < marks.nose.y < marks.mouth_left.y
    assert marks.mouth_left.x > marks.mouth_right.x
    assert (face.aligned.width, face.aligned.height) == (112, 112)


async def test_both_detectors_agree_on_the_astronaut(stub, astronaut_jpeg) -> None:
    fast, reference = await asyncio.gather(
        stub.Detect(detect_request(astronaut_jpeg, model=names.BLAZEFACE), timeout=30),
        stub.Detect(detect_request(astronaut_jpeg, model="mtcnn"), timeout=30))
    a, b = fast.faces[0].landmarks, reference.faces[0].landmarks
    eye_distance = b.left_eye.x - b.right_eye.x
    for name in ("left_eye", "right_eye", "nose"):
        fast_point, reference_point = getattr(a, name), getattr(b, name)
        gap = np.hypot(fast_point.x - reference_point.x, fast_point.y - reference_point.y)
        assert gap < 0.15 * eye_distance, name


async def test_concurrent_requests_share_batches_and_get_their_own_faces(
        stub, astronaut_jpeg) -> None:
    mirrored = io.BytesIO()
    Image.open(io.BytesIO(astronaut_jpeg)).transpose(Image.FLIP_LEFT_RIGHT).save(mirrored, "JPEG")
    images = [astronaut_jpeg, mirrored.getvalue()] * 3
    replies = await asyncio.gather(
        *(stub.Detect(detect_request(i, model=names.BLAZEFACE), timeout=30) for i in images))
    centres = [(r.faces[0].box.x_min + r.faces[0].box.x_max) / 2 for r in replies]
    assert all(abs(centres[k] + centres[k + 1] - 512) < 6 for k in range(0, 6, 2))  # mirrored
    assert np.ptp(centres[0::2]) < 1e-3  # the same image, whatever batch it rode in


async def test_default_model_setting_selects_blazeface(blazeface_model, astronaut_jpeg) -> None:
    settings = FaceDetectionSettings(port=0, metrics_port=None, default_model=names.BLAZEFACE,
                                     max_batch_size=2)  # fewer warm-up runs
    async with running(FaceDetectionApp(settings), settings) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        reply = await face_detection_pb2_grpc.FaceDetectionStub(channel).Detect(
            detect_request(astronaut_jpeg), timeout=30)
    assert reply.model.name == names.BLAZEFACE and len(reply.faces) == 1


async def test_a_missing_blazeface_is_failed_precondition(
        detection_models, tmp_path, astronaut_jpeg) -> None:
    for part in names.MTCNN:
        (tmp_path / part).symlink_to(detection_models / part)
    settings = FaceDetectionSettings(port=0, metrics_port=None, model_repository=tmp_path,
                                     max_batch_size=2)
    async with running(FaceDetectionApp(settings), settings) as live, \
            grpc.aio.insecure_channel(live.address) as channel:
        stub = face_detection_pb2_grpc.FaceDetectionStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.Detect(detect_request(astronaut_jpeg, model=names.BLAZEFACE), timeout=30)
        assert len((await stub.Detect(detect_request(astronaut_jpeg), timeout=30)).faces) == 1
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "make models" in raised.value.details()
