"""Convert TF.js graph models (``model.json`` + weight shards) to ONNX with our own code.

    graph = load(Path("blazeface.json"))
    model = convert(graph, dynamic_batch=True)   # an onnx.ModelProto, checked

Generic over the op kinds in ops.py (convolutions with fused bias/activations, pooling,
padding, element-wise, reductions, reshape, concat, matmul, softmax); any other op, control flow
or multi-output op stops the conversion with ``UnsupportedGraph`` naming it.
"""
from models.tfjs_graph.builder import UnsupportedGraph
from models.tfjs_graph.convert import OPSET, convert
from models.tfjs_graph.loader import TfjsGraph, load

__all__ = ["OPSET", "TfjsGraph", "UnsupportedGraph", "convert", "load"]
