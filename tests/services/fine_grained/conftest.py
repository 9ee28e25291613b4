"""Fixtures of the fine-grained suite: the served models, built on first use."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from models import build
from tests.services.fine_grained.helpers import SERVED


@pytest.fixture(scope="session")
def fine_grained_models():
    """The ImageNet and flowers17 classifiers as `make models` builds them."""
    build.build_all(SERVED, log=lambda _: None)
    return build.REPOSITORY


@pytest.fixture(scope="session")
def cat_and_coffee() -> np.ndarray:
    """Chelsea the cat (left, 451 px wide) beside a cup of coffee (right), 300 px high."""
    cat = np.asarray(Image.fromarray(photos.chelsea()).resize((451, 300)))
    coffee = np.asarray(Image.fromarray(photos.coffee()).resize((450, 300)))
    return np.concatenate([cat, coffee], axis=1)
