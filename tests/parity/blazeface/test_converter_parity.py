"""Every op kind of models/tfjs_graph against TF.js itself, on a synthetic graph (zoo.py)."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from models.tfjs_graph import convert, load
from tests.parity.blazeface.tfjs import ensure_runtime, run_tfjs
from tests.parity.blazeface.zoo import INPUT_SHAPE, OUTPUTS, write_zoo

TOLERANCE = 1e-5  # outputs here are of order 1


def test_zoo_matches_tfjs_op_by_op(tmp_path) -> None:
    ensure_runtime()
    model_json = write_zoo(tmp_path)
    rows = np.random.default_rng(3).uniform(-1, 1, (2, *INPUT_SHAPE[1:])).astype(np.float32)
    theirs = run_tfjs(model_json, rows, OUTPUTS, tmp_path)
    model = convert(load(model_json), OUTPUTS, dynamic_batch=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ours = session.run([f"{name}:0" for name in OUTPUTS], {"input": rows})
    for name, out in zip(OUTPUTS, ours):
        assert out.shape == theirs[name].shape, name
        worst = float(np.abs(out - theirs[name]).max())
        assert worst <= TOLERANCE, f"{name}: max abs diff {worst:.3g}"
