"""The ONNX graph under construction, and the layout of each tensor in it.

TF.js graphs are NHWC; ONNX convolutions and pools are NCHW. Rather than wrapping every such op
in a pair of transposes, the builder keeps their outputs NCHW ("channels first") and remembers
which tensors are held that way: element-wise ops and Pad work in either layout, and a transpose
back to NHWC is inserted only where an op depends on the axis order (Reshape, Concat, reductions,
graph outputs), once per tensor.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)


class UnsupportedGraph(ValueError):
    """The TF.js graph uses an op or attribute this converter does not translate."""


class OnnxBuilder:
    def __init__(self, consts: dict[str, np.ndarray]):
        self.consts = consts  # TF const values, by node name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.channels_first: set[str] = set()
        self.batch: int | None = None  # the static batch size made dynamic, if any
        self._converted: dict[tuple[str, str], str] = {}  # (tensor, layout or "init") -> name
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}__{self._count}"

    def initializer(self, value: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def is_const(self, tensor: str) -> bool:
        return tensor in self.consts

    def value(self, tensor: str) -> np.ndarray:
        """The static value of a Const input (shapes, axes, paddings, filters)."""
        if tensor not in self.consts:
            raise UnsupportedGraph(f"{tensor} must be a constant for this conversion")
        return self.consts[tensor]

    def tf_layout(self, tensor: str) -> str:
        """The tensor as TF lays it out: consts become initializers, NCHW tensors get transposed."""
        if self.is_const(tensor):
            return self._once(tensor, "init", lambda: self.initializer(self.consts[tensor], tensor))
        if tensor not in self.channels_first:
            return tensor
        return self._once(tensor, "nhwc", lambda: self._transpose(tensor, TO_NHWC))

    def nchw(self, tensor: str) -> str:
        """A rank-4 activation in channels-first layout."""
        if tensor in self.channels_first:
            return tensor
        return self._once(tensor, "nchw", lambda: self._transpose(self.tf_layout(tensor), TO_NCHW))

    def _transpose(self, tensor: str, perm: tuple[int, ...]) -> str:
        return self.node("Transpose", [tensor], self.fresh(tensor), perm=list(perm))

    def _once(self, tensor: str, kind: str, make) -> str:
        key = (tensor, kind)
        if key not in self._converted:
            self._converted[key] = make()
        return self._converted[key]
