"""The Open Inference Protocol (KServe v2) beside the typed API, on a real expression service.

Stock tritonclient[grpc] talks to it from its own process (tests/services/oip_probe.py: its
copy of the ``inference`` protocol cannot share a process with XCloud's); the typed-contents,
error and batching checks use XCloud's generated stub (xcloud/oip) in this process.
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import REGISTRY

from services.expression.app import ExpressionApp
from services.expression.settings import ExpressionSettings
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.repository import ModelRepository
from tests.conftest import MODEL_REPOSITORY, REPO_ROOT
from tests.services.face_attributes.support import astronaut_crop
from tests.support.servers import health_status, running
from xcloud import names
from xcloud.oip import grpc_predict_v2_pb2 as pb
from xcloud.oip import grpc_predict_v2_pb2_grpc as pb_grpc
from xcloud.v1 import common_pb2, expression_pb2, expression_pb2_grpc

MODEL = names.FACEAPI_EXPRESSION
PROBE = REPO_ROOT / "tests" / "services" / "oip_probe.py"
MAX_BATCH = 8

if not ModelRepository(MODEL_REPOSITORY).is_installed(MODEL):
    pytest.skip(f"{MODEL} is not built in {MODEL_REPOSITORY} (run `make models`)",
                allow_module_level=True)


@pytest.fixture(scope="module")
async def server():
    # a long batching window, so that concurrent calls surely share one run
    config = ExpressionSettings(port=0, metrics_port=None, max_batch_size=MAX_BATCH,
                                max_batch_delay_ms=250)
    async with running(ExpressionApp(config), config) as live:
        yield live


@pytest.fixture(scope="module")
async def channel(server):
    async with grpc.aio.insecure_channel(server.address) as open_channel:
        yield open_channel


@pytest.fixture(scope="module")
def oip(channel) -> pb_grpc.GRPCInferenceServiceStub:
    return pb_grpc.GRPCInferenceServiceStub(channel)


@pytest.fixture(scope="module")
def typed(channel) -> expression_pb2_grpc.ExpressionStub:
    return expression_pb2_grpc.ExpressionStub(channel)


def crops() -> list[np.ndarray]:
    return [astronaut_crop(224), astronaut_crop(256)[::, ::-1].copy()]  # two different faces


def model_rows(faces: list[np.ndarray]) -> np.ndarray:
    """The rows the expression handler feeds its model (uint8 pixels, NCHW 112x112)."""
    margin = ExpressionSettings().margin
    return np.stack([reframe(f, SHARED_CROP_MARGIN, margin, 112).transpose(2, 0, 1)
                     for f in faces])


async def typed_probabilities(typed, faces: list[np.ndarray]) -> np.ndarray:
    request = expression_pb2.ExpressionRequest(faces=[
        common_pb2.RawImage(width=f.shape[1], height=f.shape[0], rgb=f.tobytes()) for f in faces])
    reply = await typed.Classify(request, timeout=30)
    return np.array([[p.probability for p in r.probabilities] for r in reply.results])


async def triton(*args: str) -> dict:
    """One tritonclient command in its own process (awaited: the server runs on this loop)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(PROBE), *args, cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def triton_infer(address: str, rows: np.ndarray, datatype: str, tmp_path: Path,
                       model: str = MODEL, input_name: str = "input") -> dict:
    np.save(tmp_path / "rows.npy", rows)
    return await triton("infer", address, model, input_name, datatype,
                        str(tmp_path / "rows.npy"), str(tmp_path))


def fp32_request(rows: np.ndarray, **fields) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=MODEL, **fields)
    request.inputs.add(name="input", datatype="FP32", shape=list(rows.shape))
    request.raw_input_contents.append(rows.astype("<f4").tobytes())
    return request


def probabilities_of(response: pb.ModelInferResponse) -> np.ndarray:
    (output,) = response.outputs
    assert (output.name, output.datatype) == ("probabilities", "FP32")
    return np.frombuffer(response.raw_output_contents[0], "<f4").reshape(list(output.shape))


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_tritonclient_reads_server_and_model_metadata(server):
    answer = await triton("metadata", server.address, MODEL)
    assert (answer["live"], answer["ready"], answer["model_ready"]) == (True, True, True)
    assert answer["server"]["name"] == "expression"
    assert answer["model"] == {
        "name": MODEL, "versions": ["1"], "platform": "onnxruntime_onnx",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 112, 112]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 7]}],
    }


@pytest.mark.parametrize("datatype", ["FP32", "UINT8"])
async def test_tritonclient_inference_equals_the_typed_answer(server, typed, tmp_path, datatype):
    faces = crops()
    rows = model_rows(faces)  # uint8 pixels: as UINT8 exactly what the handler casts to FP32
    cast = rows.astype(datatype.lower().replace("fp", "float"))
    answer = await triton_infer(server.address, cast, datatype, tmp_path)
    assert (answer["id"], answer["model_version"]) == ("probe-1", "1")
    assert answer["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [2, 7]}]
    ours = np.load(tmp_path / "probabilities.npy")
    np.testing.assert_allclose(ours, await typed_probabilities(typed, faces), atol=1e-5)


@pytest.mark.parametrize("model, datatype, shape, code, fragment", [
    ("no_such_model", "FP32", [1, 3, 112, 112], "NOT_FOUND", f"it serves {MODEL}"),
    (MODEL, "FP32", [1, 3, 100, 100], "INVALID_ARGUMENT", "has shape [-1, 3, 112, 112]"),
    (MODEL, "INT64", [1, 3, 112, 112], "INVALID_ARGUMENT", "is FP32; got INT64"),
    (MODEL, "FP32", [MAX_BATCH + 1, 3, 112, 112], "RESOURCE_EXHAUSTED", f"at most {MAX_BATCH}"),
], ids=["unknown_model", "wrong_shape", "wrong_datatype", "too_many_rows"])
async def test_tritonclient_gets_an_actionable_status(server, tmp_path, model, datatype, shape,
                                                      code, fragment):
    rows = np.zeros(shape, datatype.lower().replace("fp", "float"))
    answer = await triton_infer(server.address, rows, datatype, tmp_path, model=model)
    assert answer["error"]["status"] == f"StatusCode.{code}"
    assert fragment in answer["error"]["message"]
    assert await health_status(server.address) == "SERVING"


async def test_typed_contents_answer_as_raw_contents_do(oip):
    rows = model_rows(crops()[:1])
    raw = probabilities_of(await oip.ModelInfer(fp32_request(rows), timeout=30))
    for datatype, field in (("FP32", "fp32_contents"), ("UINT8", "uint_contents")):
        request = pb.ModelInferRequest(model_name=MODEL, model_version="1", id="typed")
        tensor = request.inputs.add(name="input", datatype=datatype, shape=list(rows.shape))
        getattr(tensor.contents, field).extend(rows.ravel().tolist())
        response = await oip.ModelInfer(request, timeout=30)
        assert response.id == "typed"
        np.testing.assert_allclose(probabilities_of(response), raw, atol=1e-6)


def bad_requests() -> dict[str, tuple[pb.ModelInferRequest, str, str]]:
    rows = np.zeros((1, 3, 112, 112), np.float32)
    short = fp32_request(rows)
    short.raw_input_contents[0] = bytes(7)
    both = fp32_request(rows)
    both.inputs[0].contents.fp32_contents.append(1.0)
    few = pb.ModelInferRequest(model_name=MODEL)
    few.inputs.add(name="input", datatype="UINT8", shape=[1, 3, 112, 112]).contents \
        .uint_contents.extend([300] * (3 * 112 * 112))
    named = fp32_request(rows)
    named.inputs[0].name = "image"
    output = fp32_request(rows)
    output.outputs.add(name="logits")
    version = fp32_request(rows, model_version="7")
    return {
        "short_bytes": (short, "INVALID_ARGUMENT", "carries 7 bytes, but FP32 [1, 3, 112, 112]"),
        "raw_and_typed": (both, "INVALID_ARGUMENT", "send one of them"),
        "uint8_out_of_range": (few, "INVALID_ARGUMENT", "the contents reach [300, 300]"),
        "wrong_input_name": (named, "INVALID_ARGUMENT", "it takes 'input' FP32"),
        "unknown_output": (output, "INVALID_ARGUMENT", "its outputs: probabilities"),
        "other_version": (version, "NOT_FOUND", "it serves version 1"),
    }


@pytest.mark.parametrize("case", sorted(bad_requests()))
async def test_malformed_requests_are_refused_with_what_to_fix(server, oip, case):
    request, code, fragment = bad_requests()[case]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await oip.ModelInfer(request, timeout=30)
    assert raised.value.code().name == code
    assert fragment in raised.value.details()
    assert await health_status(server.address) == "SERVING"


async def test_model_ready_is_a_yes_or_no(oip):
    ready = [(await oip.ModelReady(pb.ModelReadyRequest(name=name, version=version))).ready
             for name, version in ((MODEL, ""), (MODEL, "1"), (MODEL, "2"), ("nope", ""))]
    assert ready == [True, True, False, False]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await oip.ModelMetadata(pb.ModelMetadataRequest(name="nope"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_protocol_and_typed_rows_share_one_batch_and_its_metrics(oip, typed):
    """One typed face and one protocol row, sent together, are one run of two rows."""
    labels = {"model": MODEL, "version": "1"}
    runs = metric("xcloud_batch_size_count", **labels)
    rows = metric("xcloud_batch_size_sum", **labels)
    calls = metric("xcloud_grpc_requests_total", service="expression", method="ModelInfer",
                   code="OK")
    face = crops()[0]
    await asyncio.gather(typed_probabilities(typed, [face]),
                         oip.ModelInfer(fp32_request(model_rows([face])), timeout=30))
    assert metric("xcloud_batch_size_count", **labels) == runs + 1
    assert metric("xcloud_batch_size_sum", **labels) == rows + 2
    assert metric("xcloud_grpc_requests_total", service="expression", method="ModelInfer",
                  code="OK") == calls + 1


async def test_server_metadata_ready_and_reflection(channel, oip):
    assert (await oip.ServerLive(pb.ServerLiveRequest())).live
    assert (await oip.ServerReady(pb.ServerReadyRequest())).ready
    assert (await oip.ServerMetadata(pb.ServerMetadataRequest())).name == "expression"
    call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30)
    (answer,) = [response async for response in call]
    services = [s.name for s in answer.list_services_response.service]
    assert "inference.GRPCInferenceService" in services
