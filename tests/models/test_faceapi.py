"""face-api conversion: manifest decoding, TF padding, the built models and their cards."""
from __future__ import annotations

import asyncio
import json

import cv2
import numpy as np
import pytest

from models.evaluation import age as age_eval
from models.evaluation import expression as expression_eval
from models.faceapi.layers import WeightMap, same_padding
from models.faceapi.weights import FACE_API, read_manifest
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.repository import ModelRepository
from services.runtime.session import LoadedModel
from tests.services.face_attributes.support import astronaut_crop, build_faceapi_models
from xcloud import names


def write_manifest(folder, weights, shard: bytes) -> None:
    (folder / "shard.bin").write_bytes(shard)
    (folder / "m.json").write_text(json.dumps([{"paths": ["shard.bin"], "weights": weights}]))


def test_quantised_and_plain_tensors_decode_like_tensorflow_js(tmp_path):
    quant = {"dtype": "uint8", "scale": 0.1, "min": -1.0}
    weights = [{"name": "q", "shape": [2, 2], "dtype": "float32", "quantization": quant},
               {"name": "f", "shape": [2], "dtype": "float32"}]
    write_manifest(tmp_path, weights, bytes([0, 10, 20, 255]) + np.float32([1.5, -2.0]).tobytes())
    tensors = read_manifest(tmp_path / "m.json")
    expected = (np.array([0, 10, 20, 255], np.float64) * 0.1 - 1.0).astype(np.float32).reshape(2, 2)
    assert tensors["q"].dtype == np.float32 and np.array_equal(tensors["q"], expected)
    assert np.array_equal(tensors["f"], np.float32([1.5, -2.0]))


@pytest.mark.parametrize("weights, shard, message", [
    ([{"name": "f", "shape": [1], "dtype": "float32"}], bytes(8), "bytes left"),
    ([{"name": "f", "shape": [4], "dtype": "float32"}], bytes(8), "runs past the end"),
    ([{"name": "s", "shape": [1], "dtype": "string"}], bytes(4), "not supported"),
])
def test_malformed_manifests_are_refused(tmp_path, weights, shard, message):
    write_manifest(tmp_path, weights, shard)
    with pytest.raises(ValueError, match=message):
        read_manifest(tmp_path / "m.json")


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (112, 3, 2, (0, 1)),   # even input, stride 2: the extra pixel goes bottom/right
    (7, 3, 2, (1, 1)),
    (14, 1, 2, (0, 0)),
    (56, 3, 1, (1, 1)),
])
def test_same_padding_follows_tensorflow(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected


def test_every_weight_must_be_used():
    weights = WeightMap({"a": np.zeros(1), "b": np.zeros(1)})
    weights.take("a")
    with pytest.raises(ValueError, match="b"):
        weights.finish()
    with pytest.raises(KeyError, match="used twice"):
        weights.take("a")


def test_every_file_read_is_pinned():
    assert all(len(sha) == 64 for sha in FACE_API.files.values())
    stems = {m.rsplit("/", 1)[1].split("-weights")[0].removesuffix(".bin") for m in FACE_API.files}
    assert stems == {"age_gender_model", "face_expression_model", "face_recognition_model"}


@pytest.fixture(scope="module")
def faceapi_models():
    return build_faceapi_models()


def models(repository) -> dict[str, LoadedModel]:
    nets = (names.FACEAPI_AGE_GENDER, names.FACEAPI_EXPRESSION, names.FACEAPI_RECOGNITION)
    return {n: LoadedModel(ModelRepository(repository).get(n), ["CPUExecutionProvider"])
            for n in nets}


def test_cards_state_inputs_labels_source_and_licence(faceapi_models):
    for name, model in models(faceapi_models).items():
        card = model.card
        side = 150 if name == names.FACEAPI_RECOGNITION else 112
        assert card.inputs[0].shape == ["batch", 3, side, side]
        assert model.session.get_inputs()[0].shape == ["batch", 3, side, side]
        assert "folded" in card.preprocessing.normalisation
        assert card.source.package == "@vladmandic/face-api" and card.license == "MIT"
        assert set(card.source.files) <= set(FACE_API.files)
    labels = models(faceapi_models)[names.FACEAPI_EXPRESSION].card.labels["probabilities"]
    assert labels == ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]


def test_a_batch_gives_each_row_the_answer_it_gets_alone(faceapi_models):
    model = models(faceapi_models)[names.FACEAPI_AGE_GENDER]
    crop = astronaut_crop()
    rows = np.stack([reframe(crop, SHARED_CROP_MARGIN, m, 112) for m in (0.0, 0.2, 0.4)])
    rows = rows.transpose(0, 3, 1, 2).astype(np.float32)
    age, gender = model.run(rows)
    for i in range(len(rows)):
        alone_age, alone_gender = model.run(rows[i:i + 1])
        assert age[i] == pytest.approx(alone_age[0], abs=1e-4)
        assert gender[i] == pytest.approx(alone_gender[0], abs=1e-5)


@pytest.mark.data
def test_descriptors_tell_people_apart_on_utkface(faceapi_models, shared_data):
    """Same face (mirrored) well under face-api's 0.6 threshold, different people above it."""
    chips = sorted((shared_data / "utkface" / "images").glob("*.jpg"))[::997][:6]
    faces = [cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), (150, 150),
                        interpolation=cv2.INTER_AREA) for p in chips]
    batch = np.stack(faces + [f[:, ::-1] for f in faces]).transpose(0, 3, 1, 2).astype(np.float32)
    (descriptors,) = models(faceapi_models)[names.FACEAPI_RECOGNITION].run(batch)
    distance = np.linalg.norm(descriptors[:, None] - descriptors[None], axis=2)
    n = len(faces)
    assert np.all(np.diag(distance[:n, n:]) < 0.6)
    others = distance[:n, :n][~np.eye(n, dtype=bool)]
    # face-api (dlib) separates these people less well than its LFW figure suggests: on SCUT
    # Asian faces it falsely accepts most pairs (models/metrics/faceapi_recognition.json)
    assert np.mean(others > 0.6) >= 0.75


@pytest.fixture(scope="module")
def expression_set(tmp_path_factory):
    """Real photos in label folders; the labels are whatever we put, only counts are checked."""
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image provides the photos")
    photo = skimage_data.astronaut()
    root = tmp_path_factory.mktemp("expressions")
    layout = {"happy": [photo, photo[:, ::-1]], "neutral": [cv2.resize(photo, (384, 384))],
              "angry": [skimage_data.coffee()]}  # no face in a cup of coffee
    for label, images in layout.items():
        (root / label).mkdir()
        for i, rgb in enumerate(images):
            bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(root / label / f"{i}.png"), bgr)
    (root / "not_a_label").mkdir()  # ignored: only label folders count
    return root


@pytest.mark.slow
def test_expression_evaluation_tabulates_every_image_of_a_label_folder(
        expression_set, faceapi_models, detection_models):
    figures = asyncio.run(expression_eval.evaluate(expression_set))
    confusion = np.array(figures["confusion"])
    labels = figures["labels"]
    assert confusion.shape == (7, 8) and figures["columns"][-1] == "no face"
    assert dict(zip(labels, confusion.sum(axis=1))) == {
        "neutral": 1, "happy": 2, "sad": 0, "angry": 1, "fearful": 0, "disgusted": 0,
        "surprised": 0}
    assert confusion[labels.index("angry"), -1] == 1
    assert (figures["images"], figures["faces"]) == (4, 3)
    assert 0.0 <= figures["accuracy"] <= 0.75


def test_expression_evaluation_explains_a_folder_without_labels(tmp_path, capsys):
    assert expression_eval.main(data=str(tmp_path), write_card=False) == 2
    assert "one folder per label" in capsys.readouterr().err


@pytest.mark.data
@pytest.mark.slow
def test_age_evaluation_reports_mae_on_a_few_utkface_faces(shared_data, faceapi_models,
                                                          detection_models, capsys):
    age_eval.main(data=str(shared_data), as_json=True, limit=4, write_card=False)
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["images"] == 4 and figures["model"] == names.FACEAPI_AGE_GENDER
    assert 0 <= figures["mae"] < 60 and 0 < figures["detection_rate"] <= 1
