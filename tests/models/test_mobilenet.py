"""MobileNetV2 from the pinned torchvision weights: strict load, class names, ONNX parity,
and the real photos the label order is checked on (chelsea is a cat, coffee an espresso)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from skimage import data as photos

from models import build
from models.mobilenet.net import MobileNetV2
from models.mobilenet.weights import (
    MOBILENET_WEIGHTS,
    WEIGHTS_MEMBER,
    imagenet_class_names,
    load_backbone,
    parse_class_names,
)
from models.modelcard import ONNX_FILE, ModelCard, read_card
from models.packages import fetch_file
from services.fine_grained.preprocess import preprocess
from xcloud import names

CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def backbone() -> MobileNetV2:
    return load_backbone()


@pytest.fixture(scope="module")
def photo_batch() -> np.ndarray:
    return np.concatenate([preprocess(photos.chelsea()), preprocess(photos.coffee())])


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[Path, ModelCard]]:
    """Both MobileNetV2 models as `make models` builds them (built here when missing)."""
    served = {"imagenet": names.MOBILENET_V2_IMAGENET, "features": names.MOBILENET_V2_FEATURES}
    build.build_all(served.values(), log=lambda _: None)
    folders = {key: build.REPOSITORY / name / "1" for key, name in served.items()}
    return {key: (folder / ONNX_FILE, read_card(folder)) for key, folder in folders.items()}


def run_onnx(path: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": batch})[0]


def test_weights_load_strictly_into_our_layout() -> None:
    state = torch.load(fetch_file(MOBILENET_WEIGHTS, WEIGHTS_MEMBER), weights_only=True)
    result = MobileNetV2().load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert sum(v.numel() for k, v in state.items()
               if "running" not in k and "num_batches" not in k) == 3_504_872


def test_class_names_parse_with_escapes_and_continued_literals() -> None:
    source = "exports.X = {\n" + "".join(f"    {i}: 'c{i}',\n" for i in range(1000)) + "};"
    source = source.replace("'c7'", "'jack-o\\'-lantern, ' +\n        'pumpkin'")
    classes = parse_class_names(source)
    assert classes[7] == "jack-o'-lantern, pumpkin" and classes[999] == "c999"
    with pytest.raises(ValueError, match="expected classes"):
        parse_class_names(source.replace("    5: 'c5',\n", ""))


def test_the_pinned_class_names_are_the_ilsvrc_order() -> None:
    classes = imagenet_class_names()
    assert len(classes) == 1000
    assert classes[0].startswith("tench") and classes[285] == "Egyptian cat"
    assert classes[ESPRESSO] == "espresso" and classes[999].startswith("toilet tissue")


def test_onnx_classifier_matches_torch_on_real_photos(backbone, photo_batch, built) -> None:
    path, card = built["imagenet"]
    with torch.no_grad():
        want = torch.softmax(backbone(torch.from_numpy(photo_batch)), dim=1).numpy()
    have = run_onnx(path, photo_batch)
    assert np.abs(have - want).max() < 1e-4
    assert card.export["max_abs_diff_vs_torch"] < 1e-4
    assert len(card.labels["probabilities"]) == 1000


def test_chelsea_is_a_cat_and_coffee_an_espresso(photo_batch, built) -> None:
    probabilities = run_onnx(built["imagenet"][0], photo_batch)
    chelsea, coffee = probabilities
    assert int(chelsea.argmax()) in CATS and chelsea[list(CATS)].sum() > 0.8
    assert int(coffee.argmax()) == ESPRESSO and coffee[ESPRESSO] > 0.9


def test_feature_model_is_the_l2_normalised_pooled_map(backbone, photo_batch, built) -> None:
    path, card = built["features"]
    with torch.no_grad():
        pooled = backbone.pooled(torch.from_numpy(photo_batch)).numpy()
    have = run_onnx(path, photo_batch)
    assert have.shape == (2, 1280)
    np.testing.assert_allclose(np.linalg.norm(have, axis=1), 1.0, atol=1e-5)
    want = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    assert np.abs(have - want).max() < 1e-4
    assert float(have[0] @ have[1]) < 0.9  # a cat and a coffee cup are not the same thing
    assert card.outputs[0].normalised == "L2"


def test_dynamic_batch(built, photo_batch) -> None:
    batch = np.concatenate([photo_batch] * 3)
    assert run_onnx(built["features"][0], batch).shape == (6, 1280)
