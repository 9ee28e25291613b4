"""Per-face tasks through the gateway with the real services: detection once, then attributes,
expression and embedding on every face, merged into one answer."""
from __future__ import annotations

import contextlib

import grpc
import pytest

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.expression.app import ExpressionApp
from services.expression.settings import ExpressionSettings
from services.face_attributes.app import FaceAttributesApp
from services.face_attributes.settings import FaceAttributesSettings
from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from tests.services.face_attributes.support import build_faceapi_models
from tests.support.servers import running
from xcloud.cli.formatting import face_summary
from xcloud.client import analyze_request
from xcloud.v1 import gateway_pb2_grpc

OK, NOT_INSTALLED = 0, 9
APPS = {
    "face_detection": (FaceDetectionApp, FaceDetectionSettings),
    "face_attributes": (FaceAttributesApp, FaceAttributesSettings),
    "expression": (ExpressionApp, ExpressionSettings),
}


@pytest.fixture(scope="module")
async def gateway(detection_models):
    build_faceapi_models()
    async with contextlib.AsyncExitStack() as stack:
        backends = {}
        for name, (app, settings_type) in APPS.items():
            settings = settings_type(port=0, metrics_port=None)
            live = await stack.enter_async_context(running(app(settings), settings))
            backends[name] = BackendSettings(address=live.address)
        settings = GatewaySettings(port=0, metrics_port=None, backends=backends)
        live = await stack.enter_async_context(running(GatewayApp(settings), settings))
        channel = await stack.enter_async_context(grpc.aio.insecure_channel(live.address))
        yield gateway_pb2_grpc.GatewayStub(channel)


async def test_every_face_gets_attributes_expression_and_embedding(gateway, astronaut_jpeg):
    tasks = ["detection", "attributes", "expression", "embedding"]
    reply = await gateway.Analyze(analyze_request(astronaut_jpeg, tasks), timeout=120)
    assert [s.task for s in reply.statuses] == tasks
    assert all(s.code == OK for s in reply.statuses), reply.statuses
    (face,) = reply.faces
    assert 20 < face.attributes.age.years < 70
    # which label face-api's gender net gives one photo is its business (`xcloud eval gender`
    # measures it); the gateway must deliver it
    assert face.attributes.gender.label in ("male", "female")
    assert face.expression.label and len(face.expression.probabilities) == 7
    assert len(face.embedding.values) == 128
    assert not face.face.HasField("aligned")  # crops stay inside unless asked for
    line = face_summary(1, face)
    assert "Gender" in line and "Expression" in line and "Age" in line


async def test_missing_attribute_models_are_reported_part_by_part(gateway, astronaut_jpeg):
    reply = await gateway.Analyze(analyze_request(astronaut_jpeg, ["attributes"]), timeout=120)
    parts = {s.task: s for s in reply.faces[0].attributes.statuses}
    for part in ("age", "gender", "race", "beauty"):
        assert part in parts
        if parts[part].code != OK:
            assert parts[part].code == NOT_INSTALLED and "not installed" in parts[part].message
    assert parts["age"].code == OK and parts["gender"].code == OK
