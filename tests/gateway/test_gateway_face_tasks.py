"""Per-face tasks through the gateway with the real services: detection once, then attributes,
expression and embedding of every face, one call per backend, merged into one answer."""
from __future__ import annotations

import contextlib

import grpc
import numpy as np
import pytest

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.expression.app import ExpressionApp
from services.expression.settings import ExpressionSettings
from services.face_attributes.app import FaceAttributesApp
from services.face_attributes.settings import FaceAttributesSettings
from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from tests.gateway.helpers import metric
from tests.services.face_attributes.support import build_faceapi_models
from tests.support.servers import running
from xcloud.cli.formatting import face_summary
from xcloud.client import analyze_request
from xcloud.v1 import face_attributes_pb2, gateway_pb2_grpc

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
    # 128 (face-api's descriptor) or face_embedding_xcloud's (unit length)
    values = np.array(face.embedding.values)
    assert len(values) == 128 or abs(np.linalg.norm(values) - 1.0) < 1e-4
    assert face.embedding.same_person_distance > 0
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


def served_calls(service: str, method: str) -> float:
    return metric("xcloud_grpc_requests_total", service=service, method=method, code="OK")


async def test_one_call_per_backend_and_accurate_as_well_as_fast(gateway, astronaut_jpeg):
    tasks = ["attributes", "expression", "embedding"]
    before = {m: served_calls(s, m) for s, m in (("face_attributes", "Predict"),
                                                 ("face_attributes", "Embed"),
                                                 ("expression", "Classify"))}
    fast = await gateway.Analyze(analyze_request(astronaut_jpeg, tasks, no_cache=True), timeout=120)
    after = {m: served_calls(s, m) for s, m in (("face_attributes", "Predict"),
                                                ("face_attributes", "Embed"),
                                                ("expression", "Classify"))}
    # attributes and embedding share face_attributes' one call
    assert {m: after[m] - before[m] for m in before} == {"Predict": 1, "Embed": 0, "Classify": 1}
    request = analyze_request(astronaut_jpeg, tasks, no_cache=True)
    request.options.attributes_mode = face_attributes_pb2.FACE_ATTRIBUTES_MODE_ACCURATE
    accurate = await gateway.Analyze(request, timeout=120)
    for reply in (fast, accurate):
        assert all(s.code == OK for s in reply.statuses), reply.statuses
    (one,), (other,) = fast.faces, accurate.faces
    assert 20 < other.attributes.age.years < 70
    assert other.attributes.age.years != one.attributes.age.years  # the mirror image counted
    assert len(other.embedding.values) == len(one.embedding.values) > 0
