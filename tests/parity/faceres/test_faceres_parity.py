"""Our PyTorch faceres (models/faceres/net.py, a feature backbone of the attribute heads)
against the original TF.js graph run by TF.js in node, on real aligned faces: pooled features,
gender and age outputs agree to 1e-4."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.attributes.features import face_crop
from models.attributes.landmarks import detect_landmarks
from models.evaluation.datasets import scut_faces
from models.faceres.net import load_faceres, model_json
from services.runtime.imaging import decode_image
from tests.parity.blazeface.tfjs import ensure_runtime, run_tfjs

TOLERANCE = 1e-4
OUTPUTS = ("global_pooling/Mean", "gender_pred/Sigmoid", "age_pred/Softmax")
FACES = 6


@pytest.mark.slow
def test_faceres_matches_tfjs_on_real_faces(shared_data: Path, detection_models, tmp_path: Path):
    ensure_runtime()
    paths = [face.path for face in scut_faces(shared_data)[::900][:FACES]]
    marks = detect_landmarks(paths, cache_dir=tmp_path)
    crops = np.stack([face_crop(decode_image(p.read_bytes()), m) for p, m in zip(paths, marks)])
    rows = crops.astype(np.float32)  # NHWC, RGB 0..255: the graph's own input
    theirs = run_tfjs(model_json(), rows, OUTPUTS, tmp_path)
    with torch.no_grad():
        nchw = torch.from_numpy(rows.transpose(0, 3, 1, 2).copy())
        pooled, _feats, gender, age = load_faceres()(nchw)
    for name, ours in zip(OUTPUTS, (pooled, gender, age)):
        assert np.abs(ours.numpy() - theirs[name].reshape(ours.shape)).max() <= TOLERANCE, name
