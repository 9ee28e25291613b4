"""The TF.js graph -> ONNX converter without node: weights, batching, layout, clear refusals.

Its agreement with TF.js itself, op by op, is tested in tests/parity/blazeface/.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from models.tfjs_graph import UnsupportedGraph, convert, load
from models.tfjs_graph.loader import read_weights
from tests.parity.blazeface.zoo import INPUT_SHAPE, OUTPUTS, write_zoo


def session(model) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def run(model, rows: np.ndarray) -> list[np.ndarray]:
    return session(model).run([f"{name}:0" for name in OUTPUTS], {"input": rows})


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    return write_zoo(tmp_path_factory.mktemp("zoo"))


def test_converts_every_op_kind_with_the_shapes_tf_gives(zoo) -> None:
    rows = np.random.default_rng(1).uniform(-1, 1, INPUT_SHAPE).astype(np.float32)
    shapes = [out.shape for out in run(convert(load(zoo), OUTPUTS), rows)]
    assert shapes == [(1, 5), (1, 16, 20), (1, 3, 3), (1, 8, 10, 3), (1, 8, 10, 3), (1, 1)]


def test_layout_changes_only_where_an_op_needs_tf_order(zoo) -> None:
    model = convert(load(zoo), OUTPUTS)
    transposes = [n for n in model.graph.node if n.op_type == "Transpose"]
    # the input into NCHW once for both convolutions; back to NHWC once for the features (read
    # by Mean and Reshape), once for "scaled" (read by Max) and for each of two NCHW outputs
    assert len(transposes) == 5


def test_dynamic_batch_gives_each_row_what_it_gets_alone(zoo) -> None:
    model = convert(load(zoo), OUTPUTS, dynamic_batch=True)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    rows = np.random.default_rng(2).uniform(-1, 1, (3, *INPUT_SHAPE[1:])).astype(np.float32)
    together = run(model, rows)
    alone = [run(model, row[None]) for row in rows]
    for k, out in enumerate(together):
        np.testing.assert_allclose(out, np.concatenate([a[k] for a in alone]), atol=1e-6)


def test_quantised_weights_are_dequantised(tmp_path) -> None:
    (tmp_path / "w.bin").write_bytes(bytes([0, 128, 255]) + np.float16([0.5, -2.25]).tobytes())
    manifest = [{"paths": ["w.bin"], "weights": [
        {"name": "q", "shape": [3], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
        {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}}]}]
    values = read_weights(manifest, tmp_path)
    assert values["q"].tolist() == [-1.0, 63.0, 126.5] and values["h"].tolist() == [0.5, -2.25]
    assert values["q"].dtype == values["h"].dtype == np.float32


def test_a_shard_shorter_or_longer_than_its_manifest_is_refused(tmp_path) -> None:
    (tmp_path / "w.bin").write_bytes(b"\0" * 16)
    manifest = [{"paths": ["w.bin"], "weights": [{"name": "x", "shape": [3], "dtype": "float32"}]}]
    with pytest.raises(ValueError, match="16 bytes"):
        read_weights(manifest, tmp_path)


def edit_graph(zoo: Path, change) -> Path:
    document = json.loads(zoo.read_text())
    change({n["name"]: n for n in document["modelTopology"]["node"]})
    edited = zoo.with_name("edited.json")
    edited.write_text(json.dumps(document))
    return edited


@pytest.mark.parametrize("change, message", [
    (lambda nodes: nodes["tanh"].update(op="NonMaxSuppressionV5"),
     "op NonMaxSuppressionV5 (node tanh)"),
    (lambda nodes: nodes["tanh"].update(input=["rows:1"]), "rows:1: ops with several outputs"),
    (lambda nodes: nodes["rows"].update(input=["rsqrt", "tanh"]), "cycle"),
    (lambda nodes: nodes["plain"]["attr"].update(padding={"s": "RVhQTElDSVQ="}),
     "padding 'EXPLICIT'"),
])
def test_unsupported_graphs_are_refused_with_the_reason(zoo, change, message) -> None:
    with pytest.raises(UnsupportedGraph, match=message.replace("(", r"\(").replace(")", r"\)")):
        convert(load(edit_graph(zoo, change)), OUTPUTS)
