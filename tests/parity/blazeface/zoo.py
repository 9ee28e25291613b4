"""A small synthetic TF.js graph model using every op kind our converter translates.

Written in the exact format of a converted TF.js graph model (GraphDef JSON + weightsManifest +
one shard, some weights quantised), so that TF.js itself can run it: the parity test holds each
op handler of models/tfjs_graph against the original runtime, beyond the ops BlazeFace uses.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

INPUT_SHAPE = (1, 9, 11, 3)
OUTPUTS = ["probabilities", "joined", "row_max", "clipped", "smooth", "sums"]
DTYPE = {"type": "DT_FLOAT"}


def ints(*values: int) -> dict[str, Any]:
    return {"list": {"i": [str(v) for v in values]}}


def text(value: str) -> dict[str, Any]:
    return {"s": base64.b64encode(value.encode()).decode()}


def texts(*values: str) -> dict[str, Any]:
    return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in values]}}


def window(stride: int, padding: str = "SAME", **extra: Any) -> dict[str, Any]:
    return {"strides": ints(1, stride, stride, 1), "padding": text(padding),
            "data_format": text("NHWC"), **extra}


class GraphWriter:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        shape = {"shape": {"dim": [{"size": str(d)} for d in INPUT_SHAPE]}}
        self.nodes: list[dict[str, Any]] = [{"name": "input", "op": "Placeholder",
                                             "attr": {"dtype": DTYPE, "shape": shape}}]
        self.weights: list[tuple[dict[str, Any], bytes]] = []

    def const(self, name: str, value: np.ndarray, quantise: str = "") -> str:
        value = np.asarray(value)
        dtype = "int32" if value.dtype.kind == "i" else "float32"
        spec: dict[str, Any] = {"name": name, "shape": list(value.shape), "dtype": dtype}
        data = value.astype(dtype).tobytes()
        if quantise == "uint8":
            low, scale = float(value.min()), float(np.ptp(value)) / 255
            spec["quantization"] = {"dtype": "uint8", "scale": scale, "min": low}
            data = np.round((value - low) / scale).astype(np.uint8).tobytes()
        elif quantise == "float16":
            spec["quantization"] = {"dtype": "float16"}
            data = value.astype(np.float16).tobytes()
        self.weights.append((spec, data))
        attr = {"dtype": {"type": f"DT_{dtype.upper()}"}}
        self.nodes.append({"name": name, "op": "Const", "attr": attr})
        return name

    def random(self, name: str, *shape: int, quantise: str = "") -> str:
        return self.const(name, self.rng.uniform(-0.5, 0.5, shape).astype(np.float32), quantise)

    def op(self, name: str, op: str, inputs: list[str], **attr: Any) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": {"T": DTYPE, **attr}})
        return name

    def write(self, folder: Path) -> Path:
        manifest = [{"paths": ["zoo.bin"], "weights": [spec for spec, _ in self.weights]}]
        (folder / "zoo.bin").write_bytes(b"".join(data for _, data in self.weights))
        document = {"format": "graph-model", "generatedBy": "xcloud tests", "convertedBy": "hand",
                    "modelTopology": {"node": self.nodes, "library": {}, "versions": {}},
                    "weightsManifest": manifest}
        path = folder / "zoo.json"
        path.write_text(json.dumps(document))
        return path


def _features(g: GraphWriter) -> str:
    """Convolutions, pools, element-wise ops and Pad on the (1, 9, 11, 3) input -> (1, 4, 4, 10).

    Also leaves "scaled" (1, 3, 3, 8) behind for the reductions.
    """
    conv = g.op("conv", "_FusedConv2D", ["input", g.random("w1", 3, 3, 3, 4, quantise="uint8"),
                                         g.random("b1", 4)],
                **window(2, fused_ops=texts("BiasAdd", "Relu6"), num_args={"i": "1"},
                         dilations=ints(1, 1, 1, 1)))
    depth = g.op("depth", "FusedDepthwiseConv2dNative",
                 [conv, g.random("w2", 3, 3, 4, 2), g.random("b2", 8), g.random("alpha", 8)],
                 **window(1, fused_ops=texts("BiasAdd", "Prelu"), num_args={"i": "2"},
                          dilations=ints(1, 1, 1, 1)))
    pooled = g.op("sum_pools", "AddV2", [
        g.op("max_pool", "MaxPool", [depth], ksize=ints(1, 2, 2, 1), **window(2)),
        g.op("avg_pool", "AvgPool", [depth], ksize=ints(1, 3, 3, 1), **window(2))])
    scaled = g.op("scaled", "Mul", [pooled, g.random("per_channel", 8)])
    leaky = g.op("leaky", "Prelu", [scaled, g.random("slopes", 1, 1, 8)])
    summed = g.op("summed", "AddN", [leaky, scaled, pooled], N={"i": "3"})
    paddings = g.const("paddings", np.array([[0, 0], [1, 0], [0, 1], [0, 2]]))
    padded = g.op("padded", "Pad", [summed, paddings])
    squared = g.op("squared", "Mul", [padded, padded])
    shifted = g.op("shifted", "AddV2", [squared, g.const("one", np.float32(1.0))])
    return g.op("rsqrt", "Rsqrt", [shifted])


def write_zoo(folder: Path, seed: int = 0) -> Path:
    """model.json + shard in ``folder``; outputs OUTPUTS, all float32."""
    g = GraphWriter(np.random.default_rng(seed))
    features = _features(g)
    pooled = g.op("mean", "Mean", [features, g.const("hw", np.array([1, 2]))],
                  keep_dims={"b": False})
    weights = g.random("w3", 10, 5, quantise="float16")
    dense = g.op("dense", "_FusedMatMul", [pooled, weights, g.random("b3", 5)],
                 fused_ops=texts("BiasAdd"), num_args={"i": "1"},
                 transpose_a={"b": False}, transpose_b={"b": False})
    g.op("probabilities", "Softmax", [dense])
    rows = g.op("rows", "Reshape", [features, g.const("rows_shape", np.array([1, -1, 10]))])
    g.op("joined", "ConcatV2", [rows, g.op("tanh", "Tanh", [rows]), g.const("axis", np.int32(2))])
    kept = g.op("channel_max", "Max", ["scaled", g.const("c", np.array([3]))],
                keep_dims={"b": True})
    g.op("row_max", "Squeeze", [kept], squeeze_dims=ints(3))
    plain = g.op("plain", "Conv2D", ["input", g.random("w4", 2, 2, 3, 3)],
                 **window(1, "VALID", dilations=ints(1, 1, 1, 1)))
    low = g.op("low", "Maximum", [plain, g.const("minus_half", np.float32(-0.5))])
    high = g.op("high", "Minimum", [low, g.const("half", np.float32(0.5))])
    g.op("clipped", "RealDiv", [g.op("sub", "Sub", [high, g.const("tenth", np.float32(0.1))]),
                                g.const("two", np.float32(2.0))])
    negated = g.op("neg", "Neg", [g.op("abs", "Abs", [g.op("relu", "Relu", [plain])])])
    g.op("smooth", "Sqrt", [g.op("sigmoid", "Sigmoid", [g.op("exp", "Exp", [negated])])])
    product = g.op("product", "MatMul", [pooled, g.random("w5", 3, 10)],
                   transpose_a={"b": False}, transpose_b={"b": True})
    g.op("sums", "Sum", [g.op("identity", "Identity", [product]), g.const("last", np.array([1]))],
         keep_dims={"b": True})
    return g.write(folder)
