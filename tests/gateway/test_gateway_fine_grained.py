"""Task fine_grained through the gateway: whole-image labels beside detection, real services."""
from __future__ import annotations

import contextlib
import io

import grpc
import pytest
from PIL import Image
from skimage import data as photos

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from models import build
from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from services.fine_grained.app import FineGrainedApp
from services.fine_grained.settings import FineGrainedSettings
from tests.support.servers import running
from xcloud import names
from xcloud.client import analyze_request
from xcloud.v1 import gateway_pb2_grpc

OK = 0


def jpeg(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="module")
async def gateway(detection_models):
    build.build_all([names.MOBILENET_V2_IMAGENET, names.FLOWERS17], log=lambda _: None)
    detect = FaceDetectionSettings(port=0, metrics_port=None)
    classify = FineGrainedSettings(port=0, metrics_port=None)
    async with contextlib.AsyncExitStack() as stack:
        faces = await stack.enter_async_context(running(FaceDetectionApp(detect), detect))
        labels = await stack.enter_async_context(running(FineGrainedApp(classify), classify))
        settings = GatewaySettings(port=0, metrics_port=None, backends={
            "face_detection": BackendSettings(address=faces.address),
            "fine_grained": BackendSettings(address=labels.address),
        })
        live = await stack.enter_async_context(running(GatewayApp(settings), settings))
        channel = await stack.enter_async_context(grpc.aio.insecure_channel(live.address))
        yield gateway_pb2_grpc.GatewayStub(channel)


async def test_labels_and_faces_come_back_in_one_answer(gateway, astronaut_jpeg):
    reply = await gateway.Analyze(analyze_request(astronaut_jpeg, ["detection", "fine_grained"],
                                                  top_k=3), timeout=60)
    assert [s.task for s in reply.statuses] == ["detection", "fine_grained"]
    assert all(s.code == OK for s in reply.statuses)
    assert len(reply.faces) == 1
    assert len(reply.fine_grained.labels) == 3
    assert reply.fine_grained.model.name == reply.statuses[1].model.name != ""


async def test_the_classifier_is_chosen_per_request_and_keys_the_cache(gateway):
    coffee = jpeg(photos.coffee())
    imagenet = await gateway.Analyze(analyze_request(coffee, ["fine_grained"],
                                     fine_grained_model=names.MOBILENET_V2_IMAGENET), timeout=60)
    flowers = await gateway.Analyze(analyze_request(coffee, ["fine_grained"],
                                    fine_grained_model=names.FLOWERS17), timeout=60)
    again = await gateway.Analyze(analyze_request(coffee, ["fine_grained"],
                                  fine_grained_model=names.MOBILENET_V2_IMAGENET), timeout=60)
    assert imagenet.fine_grained.labels[0].name == "espresso"
    assert flowers.fine_grained.model.name == names.FLOWERS17
    assert not flowers.statuses[0].cached and again.statuses[0].cached
    assert again.fine_grained == imagenet.fine_grained


async def test_an_unknown_classifier_is_a_task_status_not_a_failed_call(gateway, astronaut_jpeg):
    reply = await gateway.Analyze(analyze_request(astronaut_jpeg, ["detection", "fine_grained"],
                                                  fine_grained_model="no_such_model"), timeout=60)
    by_task = {s.task: s for s in reply.statuses}
    assert by_task["detection"].code == OK and len(reply.faces) == 1
    assert by_task["fine_grained"].code != OK and "no_such_model" in by_task["fine_grained"].message
