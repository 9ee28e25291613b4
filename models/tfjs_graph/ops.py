"""One handler per TensorFlow op kind: it emits the ONNX nodes computing that op's output.

A handler gets the builder, the TF node and the name its output must have; it marks that output
channels-first when it leaves it NCHW (see builder.py). Filters are TF-style (conv HWIO,
depthwise HW·in·multiplier, dense in·out) and are rearranged once into ONNX initializers.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from models.tfjs_graph.builder import TO_NCHW, OnnxBuilder, UnsupportedGraph
from models.tfjs_graph.loader import Node

Handler = Callable[[OnnxBuilder, Node, str], None]
HANDLERS: dict[str, Handler] = {}

UNARY = {"Identity": "Identity", "Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh",
         "Sqrt": "Sqrt", "Exp": "Exp", "Neg": "Neg", "Abs": "Abs"}
ELEMENTWISE = {"Add": "Add", "AddV2": "Add", "AddN": "Sum", "Sub": "Sub", "Mul": "Mul",
               "RealDiv": "Div", "Maximum": "Max", "Minimum": "Min", "Prelu": "PRelu"}
REDUCTIONS = {"Mean": "ReduceMean", "Max": "ReduceMax", "Sum": "ReduceSum"}


def handles(*ops: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS.update({op: handler for op in ops})
        return handler
    return register


def _same_layout(b: OnnxBuilder, tensor: str, out: str) -> str:
    """The input as it is held when the op does not care about axis order; marks ``out`` alike."""
    if tensor in b.channels_first:
        b.channels_first.add(out)
        return tensor
    return b.tf_layout(tensor)


@handles(*UNARY)
def _unary(b: OnnxBuilder, node: Node, out: str) -> None:
    b.node(UNARY[node.op], [_same_layout(b, node.inputs[0], out)], out)


@handles("Relu6")
def _relu6(b: OnnxBuilder, node: Node, out: str) -> None:
    _clip6(b, _same_layout(b, node.inputs[0], out), out)


def _clip6(b: OnnxBuilder, tensor: str, out: str) -> None:
    low, high = (b.initializer(np.array(v, np.float32), "relu6") for v in (0.0, 6.0))
    b.node("Clip", [tensor, low, high], out)


@handles("Rsqrt")
def _rsqrt(b: OnnxBuilder, node: Node, out: str) -> None:
    root = b.node("Sqrt", [_same_layout(b, node.inputs[0], out)], b.fresh(out))
    b.node("Reciprocal", [root], out)


@handles(*ELEMENTWISE)
def _elementwise(b: OnnxBuilder, node: Node, out: str) -> None:
    operands = node.inputs
    if any(t in b.channels_first for t in operands) and all(_fits_nchw(b, t) for t in operands):
        b.node(ELEMENTWISE[node.op], [_as_nchw(b, t) for t in operands], out)
        b.channels_first.add(out)
    else:
        b.node(ELEMENTWISE[node.op], [b.tf_layout(t) for t in operands], out)


def _fits_nchw(b: OnnxBuilder, tensor: str) -> bool:
    # Constants broadcasting over NHWC as scalars, (C,), (H, W, C) or rank 4 broadcast the same
    # way over NCHW once their axes are moved along.
    if tensor in b.channels_first:
        return True
    return b.is_const(tensor) and b.value(tensor).ndim in (0, 1, 3, 4)


def _as_nchw(b: OnnxBuilder, tensor: str) -> str:
    if tensor in b.channels_first:
        return tensor
    value = b.value(tensor)
    if value.ndim == 1:
        value = value.reshape(-1, 1, 1)
    elif value.ndim == 3:
        value = value.transpose(2, 0, 1)
    elif value.ndim == 4:
        value = value.transpose(TO_NCHW)
    return b.initializer(value, tensor)


def _check_nhwc(node: Node) -> None:
    if node.string("data_format", "NHWC") != "NHWC":
        raise UnsupportedGraph(f"{node.name}: data_format {node.string('data_format')} (only NHWC)")


def _window(node: Node) -> dict[str, object]:
    padding = node.string("padding")
    if padding not in ("SAME", "VALID"):
        raise UnsupportedGraph(f"{node.name}: padding {padding!r} is not supported (SAME, VALID)")
    # ONNX SAME_UPPER puts the odd padding pixel at the end, as TensorFlow's SAME does.
    return {"strides": node.ints("strides")[1:3],
            "auto_pad": "SAME_UPPER" if padding == "SAME" else "VALID"}


@handles("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
def _conv(b: OnnxBuilder, node: Node, out: str) -> None:
    _check_nhwc(node)
    source, filter_name, *extra = node.inputs
    kernel = b.value(filter_name)
    height, width, channels, multiplier = kernel.shape
    if "Depthwise" in node.op:  # output channel c * multiplier + m, as in TF
        weight = kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, height, width)
        group = channels
    else:
        weight, group = kernel.transpose(3, 2, 0, 1), 1
    dilations = node.ints("dilations")[1:3] or [1, 1]
    raw = b.node("Conv", [b.nchw(source), b.initializer(weight, filter_name)], b.fresh(out),
                 group=group, dilations=dilations, **_window(node))
    _epilogue(b, node, raw, extra, out, channels_first=True)


@handles("MatMul", "_FusedMatMul")
def _matmul(b: OnnxBuilder, node: Node, out: str) -> None:
    left, right, *extra = node.inputs
    operands = [_transposed(b, left, node.boolean("transpose_a")),
                _transposed(b, right, node.boolean("transpose_b"))]
    raw = b.node("MatMul", operands, b.fresh(out))
    _epilogue(b, node, raw, extra, out, channels_first=False)


def _transposed(b: OnnxBuilder, tensor: str, transpose: bool) -> str:
    if not transpose:
        return b.tf_layout(tensor)
    if b.is_const(tensor):  # dense weights: transpose once, here
        return b.initializer(b.value(tensor).T, tensor)
    return b.node("Transpose", [b.tf_layout(tensor)], b.fresh(tensor), perm=[1, 0])


def _epilogue(b: OnnxBuilder, node: Node, raw: str, extra: list[str], out: str,
              channels_first: bool) -> None:
    """The fused ops of _FusedConv2D / _FusedMatMul: BiasAdd, then at most one activation."""
    fused = node.strings("fused_ops")
    operand = (lambda name: _as_nchw(b, name)) if channels_first else b.tf_layout
    if fused[:1] == ["BiasAdd"]:
        raw = b.node("Add", [raw, operand(extra.pop(0))], b.fresh(out))
        fused = fused[1:]
    if not fused:
        b.node("Identity", [raw], out)
    elif fused == ["Relu"]:
        b.node("Relu", [raw], out)
    elif fused == ["Relu6"]:
        _clip6(b, raw, out)
    elif fused == ["Prelu"]:
        b.node("PRelu", [raw, operand(extra[0])], out)
    else:
        raise UnsupportedGraph(f"{node.name}: fused ops {node.strings('fused_ops')} "
                               "are not supported")
    if channels_first:
        b.channels_first.add(out)


@handles("MaxPool", "AvgPool")
def _pool(b: OnnxBuilder, node: Node, out: str) -> None:
    _check_nhwc(node)
    # AveragePool's default count_include_pad=0 matches TF, which averages the valid pixels only.
    op = "MaxPool" if node.op == "MaxPool" else "AveragePool"
    b.node(op, [b.nchw(node.inputs[0])], out, kernel_shape=node.ints("ksize")[1:3], **_window(node))
    b.channels_first.add(out)


@handles("Pad")
def _pad(b: OnnxBuilder, node: Node, out: str) -> None:
    source, paddings = node.inputs
    pads = b.value(paddings).astype(np.int64)  # (rank, 2): before, after per axis
    if source in b.channels_first:
        pads = pads[list(TO_NCHW)]
    flat = b.initializer(pads.T.reshape(-1), paddings)  # ONNX: all befores, then all afters
    b.node("Pad", [_same_layout(b, source, out), flat], out, mode="constant")


@handles("Reshape")
def _reshape(b: OnnxBuilder, node: Node, out: str) -> None:
    source, shape = node.inputs
    target = b.value(shape).astype(np.int64)
    if b.batch is not None and target.size and target[0] == b.batch:
        target[0] = 0  # ONNX: copy the input's dimension, so the batch stays dynamic
    b.node("Reshape", [b.tf_layout(source), b.initializer(target, shape)], out)


@handles("ConcatV2")
def _concat(b: OnnxBuilder, node: Node, out: str) -> None:
    *parts, axis = node.inputs
    b.node("Concat", [b.tf_layout(p) for p in parts], out, axis=int(b.value(axis)))


@handles(*REDUCTIONS)
def _reduce(b: OnnxBuilder, node: Node, out: str) -> None:
    source, axes = node.inputs
    axes_name = b.initializer(b.value(axes).astype(np.int64).reshape(-1), axes)
    b.node(REDUCTIONS[node.op], [b.tf_layout(source), axes_name], out,
           keepdims=int(node.boolean("keep_dims")))


@handles("Softmax")
def _softmax(b: OnnxBuilder, node: Node, out: str) -> None:
    b.node("Softmax", [b.tf_layout(node.inputs[0])], out, axis=-1)


@handles("Squeeze")
def _squeeze(b: OnnxBuilder, node: Node, out: str) -> None:
    axes = node.ints("squeeze_dims")
    extra = [b.initializer(np.array(axes, np.int64), node.name + "_axes")] if axes else []
    b.node("Squeeze", [b.tf_layout(node.inputs[0]), *extra], out)
