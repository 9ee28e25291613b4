"""Nothing secret or personal reaches the logs: not the API key, not the image bytes, not the
aligned crops, not the embeddings, at DEBUG, on good calls and bad ones alike."""
from __future__ import annotations

import contextlib
import hashlib
import logging

import grpc
import pytest

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.face_attributes.app import FaceAttributesApp
from services.face_attributes.settings import FaceAttributesSettings
from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from tests.support.servers import running
from xcloud.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.security
KEY = "log-probe-key-5e1d0c"


@contextlib.asynccontextmanager
async def stack(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"{hashlib.sha256(KEY.encode()).hexdigest()} acme\n")
    detection = FaceDetectionSettings(port=0, metrics_port=None, log_level="DEBUG")
    attributes = FaceAttributesSettings(port=0, metrics_port=None, log_level="DEBUG")
    async with running(FaceDetectionApp(detection), detection) as det, \
            running(FaceAttributesApp(attributes), attributes) as attr:
        settings = GatewaySettings(port=0, metrics_port=None, api_key_file=keys, backends={
            "face_detection": BackendSettings(address=det.address),
            "face_attributes": BackendSettings(address=attr.address)})
        async with running(GatewayApp(settings), settings) as gateway, \
                grpc.aio.insecure_channel(gateway.address) as channel:
            yield gateway_pb2_grpc.GatewayStub(channel)


def analyze(image: bytes) -> gateway_pb2.AnalyzeRequest:
    return gateway_pb2.AnalyzeRequest(image=common_pb2.Image(content=image),
                                      tasks=["detection", "embedding"])


def fragments(data: bytes) -> list[str]:
    """How bytes would look if logged: repr, hex, latin-1 text."""
    chunk = data[len(data) // 2:len(data) // 2 + 24]
    return [repr(chunk)[2:-1], chunk.hex(), chunk.decode("latin-1")]


async def test_no_key_image_crop_or_embedding_is_logged(tmp_path, caplog, detection_models,
                                                        astronaut_jpeg):
    caplog.set_level(logging.DEBUG)
    auth = (("x-api-key", KEY),)
    async with stack(tmp_path) as stub:
        good = await stub.Analyze(analyze(astronaut_jpeg), metadata=auth, timeout=120)
        for image, metadata in ((astronaut_jpeg[:4000], auth), (b"\x00" * 64, auth),
                                (astronaut_jpeg, (("x-api-key", KEY + "-wrong"),))):
            with contextlib.suppress(grpc.aio.AioRpcError):
                await stub.Analyze(analyze(image), metadata=metadata, timeout=120)
    assert good.faces and good.faces[0].embedding.values, good.statuses
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "nothing was logged at all: the test would prove nothing"
    assert KEY not in text
    for secret in fragments(astronaut_jpeg):
        assert secret not in text
    values = list(good.faces[0].embedding.values)[:8]
    assert not any(f"{v:.5f}" in text or repr(v) in text for v in values)
