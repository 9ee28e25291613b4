"""TF.js graph model -> ONNX model, op by op (see ops.py for the op kinds translated).

Only the nodes the requested outputs depend on are converted, in dependency order. The ONNX
model keeps the TF.js interface: same input name and NHWC layout, outputs named ``<node>:0`` as
in the TF signature, so the original runtime and onnxruntime can be fed the same tensors.
"""
from __future__ import annotations

from collections.abc import Sequence

import onnx
from onnx import TensorProto, helper

from models.tfjs_graph.builder import OnnxBuilder, UnsupportedGraph
from models.tfjs_graph.loader import Node, TfjsGraph
from models.tfjs_graph.ops import HANDLERS

OPSET = 18  # Reduce* take their axes as an input from 18 on, like ReduceSum already did
ELEMENT_TYPES = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT32}


def convert(graph: TfjsGraph, outputs: Sequence[str] = (), dynamic_batch: bool = False,
            name: str = "tfjs_graph") -> onnx.ModelProto:
    """The ONNX model computing ``outputs`` (default: the signature's) of the TF.js graph.

    ``dynamic_batch`` turns the inputs' fixed leading dimension into a free "batch" one; Reshape
    targets that repeat that fixed size in front are taken to mean the batch too, which the
    caller should verify by running a batch against single rows.
    """
    wanted = list(outputs or graph.outputs)
    builder = OnnxBuilder(graph.consts)
    inputs = []
    for node in _dependency_order(graph, wanted):
        if node.op == "Const":
            builder.value(node.name)  # fails clearly when the manifest lacks it
        elif node.op == "Placeholder":
            inputs.append(_graph_input(node, builder, dynamic_batch))
        elif node.op in HANDLERS:
            HANDLERS[node.op](builder, node, node.name)
        else:
            raise UnsupportedGraph(
                f"op {node.op} (node {node.name}) is not supported; supported: {sorted(HANDLERS)}"
            )
    results = []
    for tensor in wanted:
        output = builder.node("Identity", [builder.tf_layout(tensor)], f"{tensor}:0")
        results.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, None))
    onnx_graph = helper.make_graph(builder.nodes, name, inputs, results, builder.initializers)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="xcloud models.tfjs_graph")
    # Strict inference fails on any node whose inputs do not fit, and fills in the output
    # shapes the checker wants.
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model)
    return model


def _graph_input(node: Node, builder: OnnxBuilder, dynamic_batch: bool) -> onnx.ValueInfoProto:
    dtype = node.attr.get("dtype", {}).get("type", "DT_FLOAT")
    if dtype not in ELEMENT_TYPES:
        raise UnsupportedGraph(f"input {node.name}: dtype {dtype} is not supported")
    dims: list[int | str | None] = [d if d > 0 else None for d in node.shape()]
    if dynamic_batch:
        if not dims or not isinstance(dims[0], int):
            raise UnsupportedGraph(f"input {node.name} has no fixed batch dimension to free")
        builder.batch, dims[0] = dims[0], "batch"
    return helper.make_tensor_value_info(node.name, ELEMENT_TYPES[dtype], dims or None)


def _dependency_order(graph: TfjsGraph, outputs: list[str]) -> list[Node]:
    """The nodes the outputs need, each after its inputs (iterative depth-first search)."""
    order: list[Node] = []
    state: dict[str, bool] = {}  # False: being visited, True: done
    stack = [(_node_of(graph, name), False) for name in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            state[node.name] = True
            order.append(node)
        elif node.name not in state:
            state[node.name] = False
            stack.append((node, True))
            # Inputs still being visited are pushed too: meeting one again is how a cycle shows.
            stack.extend((_node_of(graph, ref), False) for ref in reversed(node.inputs)
                         if not state.get(_node_of(graph, ref).name))
        elif not state[node.name]:
            raise UnsupportedGraph(f"the graph has a cycle through {node.name} (control flow)")
    return order


def _node_of(graph: TfjsGraph, reference: str) -> Node:
    name, _, index = reference.partition(":")
    if index not in ("", "0"):
        raise UnsupportedGraph(f"{reference}: ops with several outputs are not supported")
    if name not in graph.nodes:
        raise UnsupportedGraph(f"{reference} is not a node of the graph")
    return graph.nodes[name]
