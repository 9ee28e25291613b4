"""Export BlazeFace (TF.js graph model in npm @vladmandic/human 3.3.6) to the served ONNX model.

Our converter (models/tfjs_graph) translates the graph with a free batch dimension; the four
TF.js outputs (scores and regressors of each anchor layer) are joined into one ``raw`` output of
896 rows in anchor order, which services/face_detection/blazeface.py decodes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from models.modelcard import ONNX_FILE, source_of
from models.packages import HUMAN, fetch_file
from models.tfjs_graph import OPSET, convert, load
from services.face_detection.blazeface import ANCHOR_LAYERS, INPUT_SIZE, MODEL

MEMBERS = ["models/blazeface.json", "models/blazeface.bin"]
# (scores, regressors) TF.js output nodes of each anchor layer, in ANCHOR_LAYERS order.
LAYER_OUTPUTS = (("Identity", "Identity_2"), ("Identity_1", "Identity_3"))
OUTPUT = "raw"
ROWS = sum((INPUT_SIZE // stride) ** 2 * per_cell for stride, per_cell in ANCHOR_LAYERS)
TOLERANCE = 1e-5  # a batch against its rows run one by one
MAX_BATCH = 16


def fetch_model_json() -> Path:
    """The TF.js model.json, with its weight shard extracted beside it."""
    paths = [fetch_file(HUMAN, member) for member in MEMBERS]
    return paths[0]


def to_onnx(model_json: Path) -> onnx.ModelProto:
    """The served model: input (batch, 256, 256, 3) NHWC in [-1, 1] -> raw (batch, 896, 17)."""
    tf_outputs = [name for layer in LAYER_OUTPUTS for name in layer]
    model = convert(load(model_json), tf_outputs, dynamic_batch=True, name=MODEL)
    graph = model.graph
    for k, (scores, regressors) in enumerate(LAYER_OUTPUTS):
        joined = helper.make_node("Concat", [f"{scores}:0", f"{regressors}:0"], [f"layer{k}"],
                                  axis=2)
        graph.node.append(joined)
    graph.node.append(helper.make_node("Concat", [f"layer{k}" for k in range(len(LAYER_OUTPUTS))],
                                       [OUTPUT], axis=1))
    del graph.output[:]
    output = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", ROWS, 17])
    graph.output.append(output)
    onnx.checker.check_model(model, full_check=True)
    return model


def verify_batching(path: Path) -> float:
    """Largest |batch - rows one by one|; raises when the free batch changes any result."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (3, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    (together,) = session.run([OUTPUT], {"input": batch})
    alone = np.concatenate([session.run([OUTPUT], {"input": row[None]})[0] for row in batch])
    if together.shape != (3, ROWS, 17):
        raise RuntimeError(f"{MODEL}: output shape {together.shape}, expected (3, {ROWS}, 17)")
    worst = float(np.abs(together - alone).max())
    if worst > TOLERANCE:
        raise RuntimeError(f"{MODEL}: a batch differs from its rows run alone by {worst:.3g}")
    return worst


def build(folder: Path) -> dict[str, Any]:
    """Write ``model.onnx`` into ``folder`` and return its model card."""
    onnx.save(to_onnx(fetch_model_json()), folder / ONNX_FILE)
    return card(verify_batching(folder / ONNX_FILE))


def card(batch_diff: float) -> dict[str, Any]:
    return {
        "name": MODEL,
        "version": "1",
        "task": "face_detection",
        "summary": "BlazeFace short-range (front) face detector: one 256x256 pass, 896 anchors, "
                   "box + 6 keypoints each. Fast; for faces filling a good part of the image.",
        "inputs": [{"name": "input", "shape": ["batch", INPUT_SIZE, INPUT_SIZE, 3],
                    "dtype": "float32"}],
        "outputs": [{"name": OUTPUT, "shape": ["batch", ROWS, 17], "dtype": "float32"}],
        "preprocessing": {
            "color": "RGB", "layout": "NHWC", "dtype": "float32", "formula": "x / 127.5 - 1",
            "input_size": [INPUT_SIZE, INPUT_SIZE],
            "resize": "scaled to fit, aspect kept, placed top-left; the rest black (-1); "
                      "area averaging when shrinking, bilinear when enlarging",
        },
        "decoding": {
            "anchors": [{"stride": s, "grid": INPUT_SIZE // s, "per_cell": n}
                        for s, n in ANCHOR_LAYERS],
            "anchor_centre": "stride * (cell + 0.5) in input pixels; "
                             "rows ordered grid y, x, anchor",
            "row": "[logit, dx, dy, w, h, 6 x (kx, ky)]: centre and keypoints = anchor + offset, "
                   "size absolute, in input pixels",
            "score": "sigmoid(clip(logit, -100, 100))",
            "keypoints": ["right_eye", "left_eye", "nose_tip", "mouth_centre",
                          "right_ear", "left_ear"],
            "keypoint_view": "subject's (right_eye is on the left of a frontal photo)",
            "nms": "weighted (score-weighted mean of each cluster), IoU 0.3",
            "served_landmarks": "left_eye, right_eye, nose from the keypoints; mouth_left and "
                                "mouth_right ESTIMATED from the mouth centre along the eye axis",
        },
        # One row is a whole 256x256 image: a 256-row batch (the service-wide cap, sized for
        # MTCNN's small crops) takes 1.4 GB and 8 s on a CPU; 16 rows keep latency bounded.
        "serving": {"max_batch_size": MAX_BATCH},
        "source": source_of(HUMAN, MEMBERS),
        "license": "MIT (package); weights by Google MediaPipe, Apache-2.0",
        "training_data": "Google's own face images (MediaPipe BlazeFace short-range model card); "
                         "not published",
        "data_terms": "No training data is redistributed; the weights are released by Google "
                      "under Apache-2.0 and repackaged under MIT by @vladmandic/human.",
        "export": {"converter": "models.tfjs_graph", "opset": OPSET,
                   "onnxruntime": ort.__version__, "max_abs_diff_batch_vs_rows": batch_diff},
        "metrics": {},
    }
