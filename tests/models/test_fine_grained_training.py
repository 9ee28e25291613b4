"""Fine-grained training: data splits, the head's recipe, head files, and `train()` writing a
new served version from a folder-per-class set (real photos, a tiny set so it runs in seconds)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from skimage import data as photos

from models.fine_grained import data as datasets
from models.fine_grained import features
from models.fine_grained.export import load_head, save_head
from models.fine_grained.head import HeadConfig, fit, predict
from models.fine_grained.train import train
from services.fine_grained.preprocess import preprocess
from xcloud.cli import train as train_cli


def write_images(folder: Path, rgb: np.ndarray, count: int) -> None:
    """``count`` different crops of one photo, as JPEG files."""
    folder.mkdir(parents=True)
    h, w = rgb.shape[:2]
    for i in range(count):
        top, left = (i * 7) % (h // 4), (i * 11) % (w // 4)
        Image.fromarray(rgb[top:top + 3 * h // 4, left:left + 3 * w // 4]).save(folder / f"{i}.jpg")


@pytest.fixture(scope="module")
def two_class_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pets_and_cups")
    write_images(root / "cat", photos.chelsea(), 4)
    write_images(root / "coffee", photos.coffee(), 4)
    return root


def test_folder_split_is_deterministic_and_keeps_every_class(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_images(tmp_path / name, photos.astronaut(), 30)
    write_images(tmp_path / "lonely", photos.camera()[..., None].repeat(3, 2), 1)
    first, again = datasets.load(tmp_path), datasets.load(tmp_path)
    assert first == again and first.classes == ["a", "b", "lonely"]
    assert 0 < len(first.test) < len(first.train)
    assert (tmp_path / "lonely" / "0.jpg", 2) in first.train  # never all held out
    (tmp_path / "a" / "extra.jpg").write_bytes((tmp_path / "a" / "0.jpg").read_bytes())
    grown = datasets.load(tmp_path)
    assert set(first.test) <= set(grown.test)  # adding files moves no old one


def test_labels_csv_sets_keep_their_own_split(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(
        "filename,class_idx,class_name,repo_split\nx.jpg,1,Rose,train\ny.jpg,0,Iris,test\n")
    images = datasets.load(tmp_path)
    assert images.classes == ["Iris", "Rose"]
    assert images.train == [(tmp_path / "images" / "x.jpg", 1)]
    assert images.test == [(tmp_path / "images" / "y.jpg", 0)]


def test_a_set_with_one_class_is_refused(tmp_path: Path) -> None:
    write_images(tmp_path / "only", photos.coffee(), 2)
    with pytest.raises(ValueError, match="at least two class folders"):
        datasets.load(tmp_path)


@pytest.mark.parametrize("balance", ["weighted", "oversample", "none"])
def test_head_learns_an_imbalanced_set(balance: str) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (3, 16)) * 3
    labels = np.repeat([0, 1, 2], [60, 10, 5])
    x = (centres[labels] + rng.normal(0, 1, (len(labels), 16)))[:, None].astype(np.float32)
    head = fit(x, labels, 3, HeadConfig(epochs=100, batch_size=16, balance=balance))
    test_labels = np.repeat([0, 1, 2], 20)
    test_x = (centres[test_labels] + rng.normal(0, 1, (60, 16)))[:, None].astype(np.float32)
    assert (predict(head, test_x).argmax(1) == test_labels).mean() > 0.9


def test_head_files_round_trip(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(size=(20, 2, 8)).astype(np.float32)
    head = fit(x, np.arange(20) % 4, 4, HeadConfig(epochs=2))
    save_head(head, (16, 18), {"classes": list("abcd")}, tmp_path / "h")
    loaded, layers, record = load_head(tmp_path / "h")
    assert layers == (16, 18) and record["classes"] == list("abcd")
    np.testing.assert_array_equal(predict(loaded, x), predict(head, x))


@pytest.mark.slow  # two exports of the whole network and 80 backbone runs
def test_train_writes_new_versions_that_classify(two_class_set: Path, tmp_path: Path,
                                                 monkeypatch) -> None:
    monkeypatch.setattr(features, "CACHE", tmp_path / "cache")  # keep the real cache clean
    repository = tmp_path / "repository"
    first = train(two_class_set, "cups", repository, data_terms="made by the test", log=print)
    second = train(two_class_set, "cups", repository, log=print)
    assert (first.name, second.name) == ("1", "2")
    card = json.loads((second / "model.json").read_text())
    assert card["labels"]["probabilities"] == ["cat", "coffee"] and card["version"] == "2"
    assert card["metrics"]["test"]["images"] >= 1
    assert "made by the test" in json.loads((first / "model.json").read_text())["data_terms"]
    session = ort.InferenceSession(str(second / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = np.concatenate([preprocess(photos.chelsea()), preprocess(photos.coffee())])
    assert session.run(None, {"input": batch})[0].argmax(1).tolist() == [0, 1]


def xcloud_train(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="xcloud")
    train_cli.add_parser(parser.add_subparsers(), [])
    args = parser.parse_args(["train", *argv])
    return args.run(args)


def test_cli_refuses_a_missing_folder_and_a_bad_name(tmp_path: Path, capsys) -> None:
    assert xcloud_train("fine-grained", "--data", str(tmp_path / "nowhere")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert xcloud_train("fine-grained", "--data", str(tmp_path), "--name", "../x") == 2
    assert "may hold only" in capsys.readouterr().err
    name = train_cli.default_name(tmp_path / "Plant Disease (61)")
    assert name == "plant_disease_61_mobilenet_v2"
