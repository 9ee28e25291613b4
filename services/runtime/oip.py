"""The Open Inference Protocol (KServe v2, gRPC ``inference.GRPCInferenceService``) over the
models of one service's pool, beside its typed ``xcloud.v1`` API.

Generic over the models: names, versions, shapes and datatypes come from the pool's loaded
ONNX sessions, so every service gets it without code of its own. Inference goes through the
pool's dynamic batcher (rows of protocol calls merge with typed calls' rows, and share their
queue, inference and batch-size metrics); the server's interceptor counts, admits and maps
errors for these RPCs as for every other. What a model computes is its raw graph: the typed
API's preprocessing (decoding, alignment, framing) is the caller's here.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import grpc
import numpy as np

from services.runtime import oip_tensors as tensors
from services.runtime.errors import InvalidInput, TooLarge, XCloudError, quoted
from services.runtime.interceptors import deadline_of
from services.runtime.metrics import timed_stage
from services.runtime.pool import ModelPool
from services.runtime.session import LoadedModel
from xcloud.oip import grpc_predict_v2_pb2 as pb
from xcloud.oip import grpc_predict_v2_pb2_grpc as pb_grpc

SERVICE_NAME = "inference.GRPCInferenceService"
PLATFORM = "onnxruntime_onnx"  # Triton's name for what serves these models
# Tensor parameters that would change what is computed or where data lives; refused rather
# than ignored. Others (e.g. MLServer's content_type) carry no meaning here and pass.
UNSUPPORTED_PARAMETERS = ("shared_memory_region", "classification")


class UnknownModel(XCloudError):
    code = grpc.StatusCode.NOT_FOUND


@dataclass
class Readiness:
    """Whether the server is ready: set by the server as its health changes, read by
    ServerReady and ModelReady. A holder rather than a callback into the server, so that the
    servicer holds no reference back to it (a cycle would keep a server that failed to start
    alive until the garbage collector ran, after its event loop had closed)."""

    ready: bool = False


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1: any size

    def describe(self) -> str:
        return f"{self.name!r} {self.datatype} {list(self.shape)}"


def specs(args) -> list[TensorSpec]:
    """The protocol's view of onnxruntime NodeArgs (session inputs or outputs)."""
    return [TensorSpec(a.name, tensors.onnx_datatype(a.type),
                       tuple(tensors.declared_shape(a.shape)))
            for a in args]


def server_version() -> str:
    try:
        return metadata.version("xcloud")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


class OpenInferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, server_name: str, pool: ModelPool, readiness: Readiness):
        self._name = server_name
        self._pool = pool
        self._readiness = readiness

    async def ServerLive(self, request, context):
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):
        return pb.ServerReadyResponse(ready=self._readiness.ready)

    async def ServerMetadata(self, request, context):
        return pb.ServerMetadataResponse(name=self._name, version=server_version())

    async def ModelReady(self, request, context):
        """A yes/no probe: a model not served, not installed or of another version is not
        ready (no error), as Triton answers."""
        try:
            self._served(request.name, request.version)
        except XCloudError:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=self._readiness.ready)

    async def ModelMetadata(self, request, context):
        model = self._served(request.name, request.version)
        session = model.session
        return pb.ModelMetadataResponse(
            name=model.name, versions=[model.version], platform=PLATFORM,
            inputs=[_metadata(s) for s in specs(session.get_inputs())],
            outputs=[_metadata(s) for s in specs(session.get_outputs())],
        )

    async def ModelInfer(self, request, context):
        model = self._served(request.model_name, request.model_version)
        with timed_stage("preprocess", model.name, model.version):
            rows = self._rows(model, request)
            wanted = _requested_outputs(request, model.output_names)
        outputs = await self._pool.infer(model.name, rows, deadline_of(context))
        with timed_stage("postprocess", model.name, model.version):
            named = [(model.output_names[i], outputs[i]) for i in wanted]
            return _response(model, request.id, named)

    def _served(self, name: str, version: str) -> LoadedModel:
        """The loaded model ``name`` (at ``version`` when one is asked for)."""
        names = [status.name for status in self._pool.statuses()]
        if name not in names:
            raise UnknownModel(f"model {quoted(name)} is not served by {self._name}; it serves "
                               f"{', '.join(names)}")
        model = self._pool.model(name)  # FAILED_PRECONDITION when named but not installed
        if version and version != model.version:
            raise UnknownModel(f"model {name} version {quoted(version)} is not served by "
                               f"{self._name}; it serves version {model.version}")
        return model

    def _rows(self, model: LoadedModel, request) -> np.ndarray:
        """The request's one input as the model's rows, checked against its declared input."""
        (spec,) = specs(model.session.get_inputs()[:1])
        if len(request.inputs) != 1:
            raise InvalidInput(f"model {model.name} takes 1 input, {spec.describe()}; the "
                               f"request carries {len(request.inputs)}")
        tensor = request.inputs[0]
        _check_tensor(model.name, spec, tensor)
        shape = list(tensor.shape)
        if shape[0] > self._pool.max_batch_size(model.name):
            limit = self._pool.max_batch_size(model.name)
            raise TooLarge(f"{shape[0]} rows in one call; model {model.name} takes at most "
                           f"{limit} (max_batch_size): split them over several calls")
        array = _decode(request, tensor, shape)
        return array.astype(tensors.DATATYPES[spec.datatype], copy=False)


def _metadata(spec: TensorSpec) -> pb.ModelMetadataResponse.TensorMetadata:
    return pb.ModelMetadataResponse.TensorMetadata(
        name=spec.name, datatype=spec.datatype, shape=list(spec.shape))


def _check_tensor(model: str, spec: TensorSpec, tensor) -> None:
    """Name, datatype and shape of a request tensor against the model's declared input."""
    if tensor.name != spec.name:
        raise InvalidInput(f"model {model} has no input {quoted(tensor.name)}; it takes "
                           f"{spec.describe()}")
    _check_parameters(f"input {spec.name!r}", tensor.parameters)
    sent = tensors.dtype_of(tensor.datatype)
    if not np.can_cast(sent, tensors.DATATYPES[spec.datatype], casting="safe"):
        raise InvalidInput(f"input {spec.name!r} of {model} is {spec.datatype}; got "
                           f"{tensor.datatype}, which does not convert to it exactly (send "
                           f"{spec.datatype}, or e.g. UINT8 for FP32)")
    shape = list(tensor.shape)
    fits = len(shape) == len(spec.shape) and all(
        want == -1 or got == want for got, want in zip(shape, spec.shape))
    if not fits or not shape or shape[0] < 1 or min(shape) < 1:
        raise InvalidInput(f"input {spec.name!r} of {model} has shape {list(spec.shape)} (-1: "
                           f"any size of at least 1, the batch axis first); got {shape}")


def _check_parameters(what: str, parameters) -> None:
    for key in UNSUPPORTED_PARAMETERS:
        if key in parameters:
            raise InvalidInput(f"{what}: parameter {key!r} is not supported by XCloud; send the "
                               "tensor data in the request and read whole outputs")


def _decode(request, tensor, shape: list[int]) -> np.ndarray:
    """The tensor's data from raw_input_contents or from its typed contents, not both."""
    if request.raw_input_contents:
        if len(request.raw_input_contents) != 1:
            raise InvalidInput(f"raw_input_contents has {len(request.raw_input_contents)} "
                               "entries; send one per input (this model takes 1)")
        if tensor.HasField("contents"):
            raise InvalidInput(f"input {tensor.name!r} has both contents and "
                               "raw_input_contents; send one of them")
        return tensors.from_raw(tensor.name, tensor.datatype, shape, request.raw_input_contents[0])
    return tensors.from_contents(tensor.name, tensor.datatype, shape, tensor.contents)


def _requested_outputs(request, names: list[str]) -> list[int]:
    """Indices of the outputs asked for, in the order asked; every output when none is."""
    if not request.outputs:
        return list(range(len(names)))
    wanted = []
    for output in request.outputs:
        if output.name not in names:
            raise InvalidInput(f"model {request.model_name} has no output {quoted(output.name)}; "
                               f"its outputs: {', '.join(names)}")
        _check_parameters(f"output {output.name!r}", output.parameters)
        wanted.append(names.index(output.name))
    return wanted


def _response(model: LoadedModel, request_id: str,
              outputs: list[tuple[str, np.ndarray]]) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(model_name=model.name, model_version=model.version,
                                      id=request_id)
    for name, array in outputs:
        response.outputs.add(name=name, datatype=tensors.datatype_of(array.dtype),
                             shape=list(array.shape))
        response.raw_output_contents.append(tensors.to_raw(array))
    return response


def add_to_server(server: grpc.aio.Server, name: str, pool: ModelPool,
                  readiness: Readiness) -> None:
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(
        OpenInferenceServicer(name, pool, readiness), server)
