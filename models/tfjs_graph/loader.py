"""Read a TF.js graph model: ``model.json`` (a TensorFlow GraphDef as JSON) and its weight shards.

The JSON holds ``modelTopology`` (``node`` list: name, op, input, attr) and ``weightsManifest``
(groups of shard files, each listing tensors in byte order with name, shape, dtype and optional
``quantization``). Const nodes carry no value in the topology: their values are the manifest
entry of the same name.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
QUANTISED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]  # tensor references "node" or "node:k"; control inputs dropped
    attr: dict[str, Any]

    def string(self, key: str, default: str = "") -> str:
        value = self.attr.get(key, {}).get("s")
        return base64.b64decode(value).decode() if value is not None else default

    def ints(self, key: str) -> list[int]:
        return [int(v) for v in self.attr.get(key, {}).get("list", {}).get("i", [])]

    def strings(self, key: str) -> list[str]:
        values = self.attr.get(key, {}).get("list", {}).get("s", [])
        return [base64.b64decode(v).decode() for v in values]

    def float(self, key: str, default: float = 0.0) -> float:
        return float(self.attr.get(key, {}).get("f", default))

    def boolean(self, key: str) -> bool:
        return bool(self.attr.get(key, {}).get("b", False))

    def shape(self) -> list[int]:
        """The ``shape`` attribute of a Placeholder; -1 for unknown dimensions."""
        dims = self.attr.get("shape", {}).get("shape", {}).get("dim", [])
        return [int(d.get("size", -1)) for d in dims]


@dataclass(frozen=True)
class TfjsGraph:
    nodes: dict[str, Node]  # in file order
    consts: dict[str, np.ndarray]
    outputs: list[str]  # the signature's output tensors, e.g. "Identity" (":0" dropped)


def load(model_json: Path) -> TfjsGraph:
    """Parse ``model.json`` and read every weight shard listed in it (found beside it)."""
    model_json = Path(model_json)
    document = json.loads(model_json.read_text())
    topology = document["modelTopology"]
    nodes = {}
    for raw in topology["node"]:
        inputs = tuple(_tensor_ref(i) for i in raw.get("input", []) if not i.startswith("^"))
        nodes[raw["name"]] = Node(raw["name"], raw["op"], inputs, raw.get("attr", {}))
    consts = read_weights(document["weightsManifest"], model_json.parent)
    return TfjsGraph(nodes, consts, _signature_outputs(document, nodes))


def _tensor_ref(reference: str) -> str:
    """"node:0" and "node" are the same tensor; other outputs keep their index."""
    return reference.removesuffix(":0")


def read_weights(manifest: list[dict[str, Any]], folder: Path) -> dict[str, np.ndarray]:
    """Every tensor of the manifest, dequantised to float32 where it was quantised."""
    values: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            array, offset = _read_tensor(data, offset, spec)
            values[spec["name"]] = array
        if offset != len(data):
            raise ValueError(f"weights of {group['paths']} hold {len(data)} bytes, "
                             f"manifest {offset}")
    return values


def _read_tensor(data: bytes, offset: int, spec: dict[str, Any]) -> tuple[np.ndarray, int]:
    shape = [int(d) for d in spec["shape"]]
    count = int(np.prod(shape, dtype=np.int64))
    quantisation = spec.get("quantization")
    stored = QUANTISED[quantisation["dtype"]] if quantisation else DTYPES.get(spec["dtype"])
    if stored is None:
        raise ValueError(f"weight {spec['name']}: dtype {spec['dtype']} is not supported")
    raw = np.frombuffer(data, dtype=stored, count=count, offset=offset)
    offset += raw.nbytes
    if quantisation and quantisation["dtype"] != "float16":
        # affine uint8/uint16 quantisation: value = q * scale + min
        raw = raw * np.float32(quantisation["scale"]) + np.float32(quantisation["min"])
    dtype = DTYPES[spec["dtype"]]
    return raw.astype(dtype).reshape(shape), offset


def _signature_outputs(document: dict[str, Any], nodes: dict[str, Node]) -> list[str]:
    signature = document.get("userDefinedMetadata", {}).get("signature", {})
    names = [name.split(":")[0] for name in signature.get("outputs", {})]
    if names:
        return sorted(names)
    consumed = {ref.split(":")[0] for node in nodes.values() for ref in node.inputs}
    return [n for n, node in nodes.items() if n not in consumed and node.op != "Const"]
