"""A grpc.aio client of the KServe v2 inference protocol (what MLServer, Triton and KServe
speak), for driving MLServer with the benchmarks' own load generator.

The messages and stub are XCloud's own Open Inference Protocol code (xcloud/oip, built from
protos/xcloud/oip by `make proto`): the same wire format MLServer serves.
"""
from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np

from benchmarks.harness import Request
from xcloud.oip import grpc_predict_v2_pb2 as pb
from xcloud.oip import grpc_predict_v2_pb2_grpc

DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.uint8): "UINT8"}


def infer_request(model: str, name: str, rows: np.ndarray):
    """ModelInfer with one input tensor sent as raw bytes (the protocol's cheapest encoding)."""
    tensor = pb.ModelInferRequest.InferInputTensor(
        name=name, datatype=DATATYPES[rows.dtype], shape=list(rows.shape))
    return pb.ModelInferRequest(model_name=model, inputs=[tensor],
                                raw_input_contents=[np.ascontiguousarray(rows).tobytes()])


def infer_call(channel: grpc.aio.Channel, model: str, name: str, inputs, timeout: float) -> Request:
    """A Request sending ``inputs()`` (the next NCHW block) to ``model``; it checks an output
    came back."""
    infer = grpc_predict_v2_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer

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
        stub = grpc_predict_v2_pb2_grpc.GRPCInferenceServiceStub(channel)
        while time.monotonic() < deadline:
            try:
                if (await stub.ServerReady(pb.ServerReadyRequest(), timeout=2)).ready and \
                        (await stub.ModelReady(pb.ModelReadyRequest(name=model),
                                               timeout=2)).ready:
                    return
            except grpc.aio.AioRpcError:
                pass  # not listening yet
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{address}: model {model} not ready after {timeout_s:.0f}s")
