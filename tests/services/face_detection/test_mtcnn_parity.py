"""Our ONNX MTCNN + numpy cascade against facenet-pytorch 2.6.0 on real photos.

reference_mtcnn.json was recorded by record_reference.py (see its docstring) in a separate venv
running the original torch implementation. Measured when recorded: every face matched with IoU
>= 0.999998, landmarks within 1.5e-6 of the box width, probabilities within 2.4e-7; the limits
below leave room for float noise on other CPUs, not for a different algorithm (a one-pixel
"+1" slip costs ~0.01 IoU on a 200 px face).
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from services.face_detection.mtcnn import MODELS, SUBJECT_ORDER, MtcnnDetector, MtcnnParams
from services.face_detection.nms import iou

HERE = Path(__file__).resolve().parent
REFERENCE = json.loads((HERE / "reference_mtcnn.json").read_text())
MIN_IOU = 0.995
MAX_LANDMARK_ERROR = 0.005  # fraction of the box width
MAX_PROB_ERROR = 1e-4


def _load_recorder():
    spec = importlib.util.spec_from_file_location("mtcnn_record_reference",
                                                  HERE / "record_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


recorder = _load_recorder()


@pytest.fixture(scope="module")
def detector(detection_models: Path) -> MtcnnDetector:
    sessions = {
        name: ort.InferenceSession(
            str(detection_models / name / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
        )
        for name in MODELS
    }

    async def infer(name: str, batch: np.ndarray) -> list[np.ndarray]:
        return sessions[name].run(None, {"input": batch})

    return MtcnnDetector(infer)


def _image(image_id: str) -> np.ndarray:
    if image_id.startswith("skimage:"):
        pytest.importorskip("skimage", reason="scikit-image provides the public-domain photos")
    else:
        root = recorder.data_root()
        if not root.is_dir():
            pytest.skip(f"shared data not found at {root} (set XCLOUD_DATA to ../shared/data)")
    return recorder.load_image(image_id)


def _params() -> MtcnnParams:
    p = REFERENCE["params"]
    return MtcnnParams(p["min_face_size"], tuple(p["thresholds"]), p["factor"])


@pytest.mark.data
@pytest.mark.parametrize("entry", REFERENCE["images"], ids=lambda e: e["id"][:48])
async def test_matches_facenet_pytorch(detector: MtcnnDetector, entry: dict) -> None:
    rgb = _image(entry["id"])
    assert recorder.pixels_sha256(rgb) == entry["pixels_sha256"], (
        "decoded pixels differ from the ones the reference saw: keep Pillow at the version "
        f"recorded in reference_mtcnn.json ({REFERENCE['reference']['pillow']})"
    )
    found = await detector.detect(rgb, _params())
    expected = entry["faces"]
    assert len(found) == len(expected)
    if not expected:
        return
    overlap = iou(np.array([f["box"] for f in expected]), np.array([d.box for d in found]))
    for i, face in enumerate(expected):
        j = int(overlap[i].argmax())
        assert overlap[i, j] >= MIN_IOU, f"face {i}: IoU {overlap[i, j]:.4f}"
        ours = found[j]
        width = face["box"][2] - face["box"][0]
        theirs = np.asarray(face["landmarks"])[SUBJECT_ORDER]
        error = np.linalg.norm(ours.landmarks - theirs, axis=1).max() / width
        assert error <= MAX_LANDMARK_ERROR, f"face {i}: landmarks off by {error:.2%} of width"
        assert abs(ours.score - face["prob"]) <= MAX_PROB_ERROR


async def test_landmarks_are_named_from_the_subjects_view(detector: MtcnnDetector) -> None:
    (face,) = await detector.detect(_image("skimage:astronaut"))
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    # Frontal portrait: the subject's left eye and mouth corner are on the image's right.
    assert left_eye[0] > right_eye[0] and mouth_left[0] > mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    x1, y1, x2, y2 = face.box
    assert np.all((face.landmarks[:, 0] > x1) & (face.landmarks[:, 0] < x2))
    assert np.all((face.landmarks[:, 1] > y1) & (face.landmarks[:, 1] < y2))
    assert face.box.dtype == np.float32 and face.landmarks.shape == (5, 2)


async def test_max_faces_and_score_threshold(detector: MtcnnDetector) -> None:
    astronaut = _image("skimage:astronaut")[::2, ::2]
    grid = np.ascontiguousarray(np.concatenate([np.concatenate([astronaut] * 2, 1)] * 2, 0))
    everyone = await detector.detect(grid)
    assert len(everyone) == 4
    scores = [d.score for d in everyone]
    assert scores == sorted(scores, reverse=True)
    best_two = await detector.detect(grid, MtcnnParams(max_faces=2))
    assert [d.score for d in best_two] == scores[:2]
    assert await detector.detect(grid, MtcnnParams(score_threshold=1.01)) == []


@pytest.mark.parametrize("shape", [(1, 1), (11, 11), (12, 300), (19, 19), (300, 16), (20, 20),
                                   (24, 40)])
async def test_tiny_images_find_nothing(detector, shape) -> None:
    assert await detector.detect(np.full((*shape, 3), 128, np.uint8)) == []


@pytest.mark.parametrize("value", [0, 255])
async def test_blank_images_find_nothing(detector: MtcnnDetector, value: int) -> None:
    assert await detector.detect(np.full((240, 320, 3), value, np.uint8)) == []


async def test_min_face_size_bounds_the_faces_found(detector: MtcnnDetector) -> None:
    # A 50x42 thumbnail of the astronaut: her face is ~14 px wide.
    thumb = np.ascontiguousarray(_image("skimage:astronaut")[0:300, 100:350][::6, ::6])
    assert await detector.detect(thumb, MtcnnParams(min_face_size=40)) == []
    (face,) = await detector.detect(thumb, MtcnnParams(min_face_size=10))
    assert 10 < face.box[2] - face.box[0] < 20
