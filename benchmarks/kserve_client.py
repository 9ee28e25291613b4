"""A grpc.aio client of the KServe v2 inference protocol (what MLServer, Triton and KServe
speak), for driving MLServer with the benchmarks' own load generator.

The protocol's messages come from benchmarks/kserve/predict_v2.proto, compiled on first use
into .cache/bench-kserve (grpc_tools, a dev dependency): generated code of another project's
API does not belong in the tree, and the proto is a few lines.
"""
from __future__ import annotations

import asyncio
import functools
import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

import grpc
import numpy as np

from benchmarks.harness import Request

PROTO = Path(__file__).resolve().parent / "kserve" / "predict_v2.proto"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench-kserve"
SERVICE = "/inference.GRPCInferenceService/"
DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.uint8): "UINT8"}


@functools.cache
def messages() -> ModuleType:
    """The compiled predict_v2_pb2 module (compiled again when the proto is newer)."""
    target = CACHE / "predict_v2_pb2.py"
    if not target.exists() or target.stat().st_mtime < PROTO.stat().st_mtime:
        from grpc_tools import protoc

        CACHE.mkdir(parents=True, exist_ok=True)
        code = protoc.main(["protoc", f"-I{PROTO.parent}", f"--python_out={CACHE}", str(PROTO)])
        if code != 0:
            raise RuntimeError(f"protoc could not compile {PROTO} (exit {code})")
    if str(CACHE) not in sys.path:
        sys.path.insert(0, str(CACHE))
    return importlib.import_module("predict_v2_pb2")


def _unary(channel: grpc.aio.Channel, method: str, request_type: str, response_type: str):
    pb = messages()
    return channel.unary_unary(SERVICE + method,
                               request_serializer=getattr(pb, request_type).SerializeToString,
                               response_deserializer=getattr(pb, response_type).FromString)


def infer_request(model: str, name: str, rows: np.ndarray):
    """ModelInfer with one input tensor sent as raw bytes (the protocol's cheapest encoding)."""
    pb = messages()
    tensor = pb.ModelInferRequest.InferInputTensor(
        name=name, datatype=DATATYPES[rows.dtype], shape=list(rows.shape))
    return pb.ModelInferRequest(model_name=model, inputs=[tensor],
                                raw_input_contents=[np.ascontiguousarray(rows).tobytes()])


def infer_call(channel: grpc.aio.Channel, model: str, name: str, inputs, timeout: float) -> Request:
    """A Request sending ``inputs()`` (the next NCHW block) to ``model``; it checks an output
    came back."""
    infer = _unary(channel, "ModelInfer", "ModelInferRequest", "ModelInferResponse")

    async def call():
        reply = await infer(infer_request(model, name, inputs()), timeout=timeout)
        if not reply.outputs:
            raise RuntimeError(f"{model}: ModelInfer answered no output")
        return reply

    return call


async def wait_until_ready(address: str, model: str, timeout_s: float) -> None:
    """Poll ServerReady and ModelReady until both say ready; TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    async with grpc.aio.insecure_channel(address) as channel:
        server = _unary(channel, "ServerReady", "ServerReadyRequest", "ServerReadyResponse")
        ready = _unary(channel, "ModelReady", "ModelReadyRequest", "ModelReadyResponse")
        pb = messages()
        while time.monotonic() < deadline:
            try:
                if (await server(pb.ServerReadyRequest(), timeout=2)).ready and \
                        (await ready(pb.ModelReadyRequest(name=model), timeout=2)).ready:
                    return
            except grpc.aio.AioRpcError:
                pass  # not listening yet
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{address}: model {model} not ready after {timeout_s:.0f}s")
