"""Attribute heads: the data splits, heads folding into one linear layer, the served graphs
against the numpy pipeline on real crops, deterministic features, and the evaluations on a
slice of the labelled data."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from sklearn.linear_model import BayesianRidge, LogisticRegression, Ridge, RidgeCV

from models import build
from models.attributes import data, features, heads
from models.attributes.export import SPECS, WEIGHTS_DIR
from models.attributes.landmarks import detect_landmarks
from models.attributes.linear import LinearHead, softmax
from services.runtime.imaging import decode_image
from tests.conftest import MODEL_REPOSITORY
from xcloud import names


def test_scut_labels_and_protocols(shared_data: Path) -> None:
    scut = data.scut(shared_data)
    assert len(scut.paths) == 5500 and scut.gender.sum() == 2750
    assert (scut.race == data.UTK_RACES.index("Asian")).sum() == 4000
    protocols = data.scut_protocols(shared_data)
    train, test = protocols["60/40"][0]
    assert (len(train), len(test)) == (3300, 2200) and not set(train) & set(test)
    assert [len(t) for _, t in protocols["5-fold"]] == [1100] * 5


def synthetic(n: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Full-width features whose target lives in two groups (scaled unevenly, as real ones are)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features.width())) * rng.uniform(0.1, 10.0, features.width())
    cols = features.columns(["recognition.pooled", "xception.pooled"])
    y = 3.0 + x[:, cols[:6]] @ rng.normal(size=6) / 10 + rng.normal(scale=0.1, size=n)
    return x, y


def test_ridge_leave_one_out_picks_sklearns_penalty() -> None:
    x, y = synthetic()
    z = (x - x.mean(0)) / x.std(0)
    ours = heads.ridge_loo(z @ z.T, y)
    reference = RidgeCV(alphas=heads.RIDGE_ALPHAS).fit(z, y)
    assert ours.alpha == reference.alpha_
    np.testing.assert_allclose(z.T @ ours.dual, reference.coef_, atol=1e-8)


def test_stacked_ridge_folds_into_one_linear_layer() -> None:
    x, y = synthetic()
    sets = [("recognition.pooled",), ("xception.pooled", "recognition.descriptor")]
    head = heads.stacked_ridge(x, y, sets)
    assert head.nets == ("recognition", "xception")
    expected = np.full(len(y), y.mean() * (1 - sum(head.record["blend"])))
    for groups, alpha, share in zip(sets, head.record["alphas"], head.record["blend"]):
        sub = x[:, features.columns(groups)]
        mean, std = sub.mean(0), sub.std(0) + 1e-6
        scaled = (sub - mean) / std
        expected += share * Ridge(alpha=alpha).fit(scaled, y).predict(scaled)
    np.testing.assert_allclose(head.predict(x)[:, 0], expected, atol=1e-5)  # float32 Gram


def test_seed_regressor_is_bayesian_ridge_on_the_seed_groups() -> None:
    x, y = synthetic()
    head = heads.seed_regressor(x, y, features.SEED_GROUPS)
    sub = x[:, features.columns(features.SEED_GROUPS)]
    mean, std = sub.mean(0), sub.std(0) + 1e-6
    reference = BayesianRidge().fit((sub - mean) / std, y)
    np.testing.assert_allclose(head.predict(x)[:, 0], reference.predict((sub - mean) / std),
                               atol=1e-8)


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_head_gives_sklearns_probabilities(classes: int) -> None:
    x, y = synthetic(90)
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1]))
    head = heads.logistic(x, labels, ["xception.pooled"], classes)
    sub = x[:, features.columns(["xception.pooled"])]
    mean, std = sub.mean(0), sub.std(0) + 1e-6
    reference = LogisticRegression(C=head.record["C"], max_iter=300).fit((sub - mean) / std, labels)
    np.testing.assert_allclose(softmax(head.predict(x)),
                               reference.predict_proba((sub - mean) / std), atol=1e-6)


def test_head_files_round_trip(tmp_path: Path) -> None:
    x, y = synthetic()
    head = heads.stacked_ridge(x, y, [("xception.grid",)])
    head.save(tmp_path / "h")
    again = LinearHead.load(tmp_path / "h")
    assert again.nets == head.nets and again.record["method"] == "stacked ridge"
    np.testing.assert_allclose(again.predict(x), head.predict(x), rtol=1e-5)


@pytest.fixture(scope="module")
def real_faces(tmp_path_factory, astronaut_jpeg: bytes, detection_models: Path):
    """The astronaut and a smaller, shifted copy of her, with our detector's landmarks."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("faces")
    big = Image.open(io.BytesIO(astronaut_jpeg))
    big.save(folder / "astronaut.jpg")
    big.crop((60, 0, 460, 400)).resize((300, 300)).save(folder / "shifted.jpg")
    paths = [folder / "astronaut.jpg", folder / "shifted.jpg"]
    marks = detect_landmarks(paths, cache_dir=folder)
    assert not np.isnan(marks).any()
    return paths, marks


def test_feature_extraction_is_deterministic(real_faces, tmp_path: Path) -> None:
    paths, marks = real_faces
    first = features.extract(paths, marks, views=2, cache_dir=tmp_path / "a")
    again = features.extract(paths, marks, views=2, cache_dir=tmp_path / "b")
    assert first.shape == (2, 2, features.width()) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[:, 0], first[:, 1])  # the mirror image is a different view


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(SPECS))
def test_served_graph_equals_the_numpy_pipeline(model: str, real_faces) -> None:
    """ONNX (nets + head in one graph) against torch features + the numpy head, to 1e-4."""
    if not (WEIGHTS_DIR / f"{model}.npz").is_file():
        pytest.skip(f"{model} has no committed head (its training was not run)")
    builder = next(b for b in build.BUILDERS if b.name == model)
    build.build_one(builder, MODEL_REPOSITORY)
    paths, marks = real_faces
    crops = [features.face_crop(decode_image(p.read_bytes()), m) for p, m in zip(paths, marks)]
    session = ort.InferenceSession(str(MODEL_REPOSITORY / model / "1" / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    (served,) = session.run(None, {"input": features.to_input(crops)})
    spec, head = SPECS[model], LinearHead.load(WEIGHTS_DIR / model)
    views = [crops, [c[:, ::-1] for c in crops]] if spec.flip else [crops]
    with torch.no_grad():
        net = features.FaceFeatures().eval()
        x = np.mean([net(torch.from_numpy(features.to_input(v))).numpy() for v in views], axis=0)
    expected = head.predict(x.astype(np.float64))
    expected = softmax(expected) if spec.labels else expected
    np.testing.assert_allclose(served, expected, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["beauty", "race", "gender"])
def test_evaluation_on_a_slice(name: str, shared_data: Path, detection_models: Path,
                               capsys) -> None:
    stems = {"beauty": names.BEAUTY, "race": names.RACE, "gender": names.GENDER}
    if name != "gender" and not (WEIGHTS_DIR / f"{stems[name]}.npz").is_file():
        pytest.skip(f"{stems[name]} has no committed head")
    module = __import__(f"models.evaluation.{name}", fromlist=["main"])
    # beauty needs more faces than 8 for a meaningful correlation (test_40's first 8 span 2.3-2.8)
    limit = 32 if name == "beauty" else 8
    module.main(data=str(shared_data), as_json=True, limit=limit, write_card=False)
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    if name == "beauty":
        assert figures["60/40"]["ours"]["pc"] > 0.5
    elif name == "race":
        assert figures["scut_test_40_asian_vs_caucasian"] >= 7 / 8
    else:
        assert figures[names.FACEAPI_AGE_GENDER]["scut_test_40"] >= 6 / 8


@pytest.mark.slow
def test_the_trunk_equals_each_head_on_one_shared_pass(real_faces) -> None:
    """face_trunk_xcloud's four outputs against torch features + each committed numpy head, and
    face_embedding_xcloud against its own: one pass of the nets serves every head."""
    from models.attributes import trunk
    from models.identity import export as identity_export

    for name in (trunk.TRUNK, identity_export.EMBEDDING):
        build.build_one(next(b for b in build.BUILDERS if b.name == name), MODEL_REPOSITORY)
    paths, marks = real_faces
    crops = features.to_input([features.face_crop(decode_image(p.read_bytes()), m)
                               for p, m in zip(paths, marks)])
    served = run_graph(trunk.TRUNK, crops)
    with torch.no_grad():
        x = features.FaceFeatures().eval()(torch.from_numpy(crops)).numpy().astype(np.float64)
    heads_ = trunk.committed_heads()
    expected = {"age": heads_["age"].predict(x), "beauty": heads_["beauty"].predict(x),
                "gender": softmax(heads_["gender"].predict(x)),
                "race": softmax(heads_["race"].predict(x))}
    for output, got in zip(trunk.OUTPUTS, served):
        np.testing.assert_allclose(got, expected[output], atol=2e-3 if output == "age" else 1e-4)
    alone = run_graph(identity_export.EMBEDDING, crops)[0]
    np.testing.assert_allclose(alone, identity_export.served_embedding()(x), atol=1e-4)


def run_graph(name: str, crops: np.ndarray) -> list[np.ndarray]:
    version = next(b.version for b in build.BUILDERS if b.name == name)
    path = MODEL_REPOSITORY / name / version / "model.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": crops})
