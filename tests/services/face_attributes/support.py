"""Real face crops and built face-api models for the face-api tests (attributes, expression,
parity, models): shared here so every suite feeds the same, gateway-shaped input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.build import REPOSITORY, build_all
from services.runtime.alignment import SHARED_CROP_MARGIN, align_face
from xcloud import names

FACEAPI_MODELS = (names.FACEAPI_AGE_GENDER, names.FACEAPI_EXPRESSION, names.FACEAPI_RECOGNITION)
HEAD_MODELS = (names.GENDER, names.RACE, names.BEAUTY)  # models/attributes
GATEWAY_SIDE = 224  # the aligned_size the gateway asks for these services
# MTCNN's 5 landmarks of skimage's astronaut (subject's left eye, right eye, nose, mouth corners)
ASTRONAUT_LANDMARKS = np.array(
    [[246.8, 103.7], [205.0, 101.7], [224.7, 129.0], [245.3, 141.9], [201.7, 139.2]], np.float32
)


def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image provides the portrait")
    return skimage_data.astronaut()


def astronaut_crop(side: int = GATEWAY_SIDE) -> np.ndarray:
    """The astronaut's face as the gateway sends it to per-face services."""
    return align_face(astronaut(), ASTRONAUT_LANDMARKS, side, SHARED_CROP_MARGIN)


def build_faceapi_models() -> Path:
    """The three face-api ONNX models, built on first use (about a minute on a free CPU)."""
    build_all(FACEAPI_MODELS, log=lambda _: None)
    return REPOSITORY


@pytest.fixture(scope="session")
def faceapi_models() -> Path:
    return build_faceapi_models()


@pytest.fixture(scope="session")
def attribute_models(faceapi_models) -> Path:
    """face-api's models and our trained heads (built from the committed weights)."""
    build_all(HEAD_MODELS, log=lambda _: None)
    return REPOSITORY
