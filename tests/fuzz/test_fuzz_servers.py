"""Hostile request messages against real servers: oversize and odd fields, NaN/inf, unicode
edge cases and NUL bytes. Every call ends OK or with a caller error that says what is wrong
(never INTERNAL or UNKNOWN), and the server is healthy after."""
from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from services.text_quality.app import TextQualityApp
from services.text_quality.fields import FIELD_NAMES
from services.text_quality.settings import TextQualitySettings
from tests.fuzz.conftest import call_code, fuzz_settings, healthy, served
from xcloud import names
from xcloud.v1 import (
    common_pb2,
    face_detection_pb2,
    face_detection_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    text_quality_pb2,
    text_quality_pb2_grpc,
)

pytestmark = pytest.mark.fuzz
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["", "\x00", "mtcnn\x00", "\u202emtcnn", "ｍｔｃｎｎ", "x" * 100_000, "detection\x00"])


@pytest.fixture(scope="module")
def text_quality(text_quality_model):
    settings = TextQualitySettings(port=0, metrics_port=None)
    with served(TextQualityApp(settings), settings) as address, \
            grpc.insecure_channel(address) as channel:
        yield channel


@pytest.fixture(scope="module")
def detection(detection_models):
    settings = FaceDetectionSettings(port=0, metrics_port=None)
    with served(FaceDetectionApp(settings), settings) as address, \
            grpc.insecure_channel(address) as channel:
        yield address, channel


def small_png(width: int, height: int) -> bytes:
    pixels = np.random.default_rng(width + 7 * height).integers(0, 256, (height, width, 3),
                                                                dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


@st.composite
def records(draw) -> text_quality_pb2.ContentRecord:
    record = text_quality_pb2.ContentRecord()
    for name in draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True)):
        kind = type(getattr(record, name))
        if kind is bool:
            value = draw(st.booleans())
        elif kind is float:
            value = draw(st.floats(allow_nan=True, allow_infinity=True))
        else:
            field = record.DESCRIPTOR.fields_by_name[name]
            value = draw(INT32 if field.type in (field.TYPE_INT32,) else INT64)
        setattr(record, name, value)
    return record


@fuzz_settings()
@given(st.lists(records(), max_size=40) | st.builds(lambda n: [text_quality_pb2.ContentRecord()]
                                                    * n, st.integers(1020, 1100)))
def test_content_records(text_quality, batch):
    stub = text_quality_pb2_grpc.TextQualityStub(text_quality)
    call_code(stub.Score, text_quality_pb2.ScoreRequest(records=batch))
    assert healthy(text_quality)


@st.composite
def detect_requests(draw) -> face_detection_pb2.DetectRequest:
    options = face_detection_pb2.DetectOptions(
        model=draw(TEXT | st.sampled_from(["mtcnn", names.BLAZEFACE])),
        min_face_size=draw(FLOATS), score_threshold=draw(FLOATS),
        max_faces=draw(INT32), aligned_size=draw(INT32 | st.integers(0, 600)),
        aligned_margin=draw(FLOATS))
    image = draw(st.builds(small_png, st.integers(1, 80), st.integers(1, 80))
                 | st.binary(max_size=512))
    return face_detection_pb2.DetectRequest(image=common_pb2.Image(content=image),
                                            options=options)


@fuzz_settings()
@given(detect_requests())
def test_detection_requests(detection, request):
    _, channel = detection
    call_code(face_detection_pb2_grpc.FaceDetectionStub(channel).Detect, request)
    assert healthy(channel)


@pytest.fixture(scope="module")
def gateway(detection):
    address, _ = detection
    settings = GatewaySettings(port=0, metrics_port=None,
                               backends={"face_detection": BackendSettings(address=address)})
    with served(GatewayApp(settings), settings) as gateway_address, \
            grpc.insecure_channel(gateway_address) as channel:
        yield channel


@fuzz_settings()
@given(st.lists(TEXT | st.sampled_from(["detection", "embedding", "identify"]), max_size=8),
       detect_requests(), st.booleans(), TEXT)
def test_gateway_analyze_requests(gateway, tasks, detect, no_cache, collection):
    request = gateway_pb2.AnalyzeRequest(
        image=detect.image, tasks=tasks,
        options=gateway_pb2.AnalyzeOptions(detection=detect.options, no_cache=no_cache))
    request.options.identify.collection = collection
    call_code(gateway_pb2_grpc.GatewayStub(gateway).Analyze, request)
    assert healthy(gateway)
