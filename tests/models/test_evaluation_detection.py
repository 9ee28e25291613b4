"""`xcloud eval detection` on a slice of the real labelled data, and its scoring rule."""
from __future__ import annotations

import json

import numpy as np

from models.evaluation.datasets import ScutFace, scut_faces
from models.evaluation.detection import main, score_face
from services.face_detection.handler import DetectedFace


def face(box, left_eye, right_eye) -> DetectedFace:
    landmarks = np.array([left_eye, right_eye, (0, 0), (0, 0), (0, 0)], np.float32)
    return DetectedFace(np.array(box, np.float32), 0.99, landmarks)


def test_eye_error_is_normalised_by_the_interocular_distance(tmp_path):
    truth = ScutFace(tmp_path / "x.jpg", np.array([150.0, 100.0]), np.array([100.0, 100.0]))
    exact = face((50, 50, 200, 200), (150, 100), (100, 100))
    off_by_5 = face((50, 50, 200, 200), (155, 100), (105, 100))
    elsewhere = face((300, 300, 400, 400), (350, 320), (310, 320))
    assert score_face(truth, [exact]) == 0.0
    assert score_face(truth, [elsewhere, off_by_5]) == 0.1  # 5 px over a 50 px eye distance
    assert score_face(truth, [elsewhere]) is None


def test_eye_centres_come_from_the_right_outline_points(shared_data):
    faces = scut_faces(shared_data)
    assert len(faces) == 5499  # CM152 has no landmarks in the release
    first = faces[0]
    # the subject's left eye is on the right of the photo
    assert first.subject_left_eye[0] > first.subject_right_eye[0]


def test_eval_on_a_slice_of_the_data_meets_the_targets(shared_data, detection_models, capsys):
    status = main(data=str(shared_data), as_json=True, limit=12, write_card=False)
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["scut_images"] == 12 and figures["flowers17_images"] == 12
    assert figures["detection_rate"] >= 11 / 12
    assert figures["eye_error_nme"] < 0.08
    assert status in (0, 1)
