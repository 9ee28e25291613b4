"""The gateway in front of the real face-detection service (needs the built MTCNN models)."""
from __future__ import annotations

import grpc
import pytest

from tests.support.images import bad_image_cases
from xcloud.names import MTCNN
from xcloud.v1 import common_pb2, face_detection_pb2

CASES = bad_image_cases()


@pytest.fixture
async def gateway(detection_address, start_gateway):
    return await start_gateway({"face_detection": detection_address})


async def test_finds_the_astronaut_and_caches_the_answer(gateway, astronaut_jpeg):
    first = await gateway.analyze(["detection"], image=astronaut_jpeg)
    second = await gateway.analyze(["detection"], image=astronaut_jpeg)
    assert (first.image_width, first.image_height) == (512, 512)
    assert len(first.faces) == 1 and first.faces[0].face.score > 0.95
    assert not first.faces[0].face.HasField("aligned")
    status = first.statuses[0]
    assert (status.code, status.model.name) == (common_pb2.STATUS_CODE_OK, "mtcnn")
    assert not status.cached
    assert status.model.version
    assert second.statuses[0].cached and list(second.faces) == list(first.faces)


async def test_returns_crops_when_asked(gateway, astronaut_jpeg):
    response = await gateway.analyze(
        image=astronaut_jpeg, detection=face_detection_pb2.DetectOptions(aligned_size=112)
    )
    aligned = response.faces[0].face.aligned
    assert (aligned.width, aligned.height, len(aligned.rgb)) == (112, 112, 112 * 112 * 3)


async def test_lists_the_detection_models(gateway):
    response = await gateway.stub.ListModels(common_pb2.ListModelsRequest(), timeout=10)
    installed = {m.model.name for m in response.models if m.installed}
    assert installed >= set(MTCNN)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_input_gets_the_detection_services_status(gateway, case):
    if case.code == "OK":
        response = await gateway.analyze(["detection"], image=case.content)
        assert (response.image_width, response.image_height) == case.size
        assert response.statuses[0].code == common_pb2.STATUS_CODE_OK
        return
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await gateway.analyze(["detection"], image=case.content)
    assert raised.value.code().name == case.code
    assert case.message in raised.value.details().lower()
