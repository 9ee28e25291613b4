"""Our served BlazeFace ONNX model against the original TF.js model run by TF.js, same inputs.

The inputs are real photos prepared exactly as the service prepares them; TF.js runs the
untouched model.json from the pinned npm package, and its four outputs, joined in the order the
export documents, must match our single ``raw`` output to 1e-4 in the units the detector uses:
scores as sigmoid(logit) and coordinates in fractions of the 256 px input, as TF.js's own
decoder (human's blazeface.ts) reads them. The raw rows cannot meet 1e-4 absolute in any two
float32 runtimes: far-off anchors have logits near -1.1e4, where float32 values lie 1e-3 apart;
there they must agree to 1e-4 relative.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from models.blazeface.export import LAYER_OUTPUTS, OUTPUT, fetch_model_json
from models.build import REPOSITORY
from models.build import main as build_models
from models.evaluation.datasets import flowers17_images, scut_faces
from services.face_detection.blazeface import INPUT_SIZE, input_tensor
from services.runtime.imaging import decode_image
from tests.parity.blazeface.tfjs import ensure_runtime, run_tfjs
from xcloud import names

TOLERANCE = 1e-4


@pytest.fixture(scope="session")
def tfjs_runtime() -> None:
    ensure_runtime()


@pytest.fixture(scope="module")
def served() -> ort.InferenceSession:
    path = REPOSITORY / names.BLAZEFACE / "1" / "model.onnx"
    if not path.is_file():
        build_models([names.BLAZEFACE])
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def tfjs_rows(rows: np.ndarray, workdir: Path) -> np.ndarray:
    """TF.js's outputs for the rows, joined like the served model's (batch, 896, 17)."""
    outputs = [name for layer in LAYER_OUTPUTS for name in layer]
    out = run_tfjs(fetch_model_json(), rows, outputs, workdir)
    layers = [np.concatenate([out[scores], out[boxes]], axis=2) for scores, boxes in LAYER_OUTPUTS]
    return np.concatenate(layers, axis=1)


def detector_units(rows: np.ndarray) -> np.ndarray:
    """Scores as probabilities, box and keypoint offsets as fractions of the input side."""
    scores = np.exp(-np.logaddexp(0.0, -rows[..., :1].astype(np.float64)))  # sigmoid, no overflow
    return np.concatenate([scores, rows[..., 1:] / INPUT_SIZE], axis=-1)


def assert_parity(served: ort.InferenceSession, images: list[np.ndarray], workdir: Path) -> None:
    rows = np.stack([input_tensor(rgb)[0] for rgb in images])
    (ours,) = served.run([OUTPUT], {"input": rows})  # the whole batch at once
    theirs = tfjs_rows(rows, workdir)  # one row at a time, as the graph's batch is fixed at 1
    assert ours.shape == theirs.shape == (len(images), 896, 17)
    worst = float(np.abs(detector_units(ours) - detector_units(theirs)).max())
    assert worst <= TOLERANCE, f"max abs diff {worst:.3g} > {TOLERANCE} (scores, input fractions)"
    np.testing.assert_allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE)
    assert (theirs[:, :, 0].max(axis=1) > 0).any(), "no anchor fired: the inputs prove nothing"


def test_photos_match_tfjs(tfjs_runtime, served, tmp_path) -> None:
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the test photos")
    assert_parity(served, [data.astronaut(), data.coffee()], tmp_path)


def test_labelled_faces_and_flowers_match_tfjs(tfjs_runtime, served, shared_data, tmp_path) -> None:
    paths = [scut_faces(shared_data)[1234].path, flowers17_images(shared_data)[567]]
    assert_parity(served, [decode_image(p.read_bytes()) for p in paths], tmp_path)
