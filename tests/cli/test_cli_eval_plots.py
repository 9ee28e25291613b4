"""Evaluation figures as PNG: models/evaluation/plots.py on small synthetic figures dicts, and
`xcloud eval NAME --plots DIR` running a real (tiny) evaluation module written to disk."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from PIL import Image

from xcloud import names
from xcloud.cli import eval as evaluation
from xcloud.cli.main import main

plots = pytest.importorskip("models.evaluation.plots",
                            reason="matplotlib is not installed (pip install -e '.[dev]')")

IDENTITY = {
    "date": "2026-12-01",
    names.FACE_EMBEDDING: {
        "threshold": 0.71,
        "lfw-identity": {"tar_at_far_0.01": 0.88, "tar_at_far_0.001": 0.66,
                         "tar_at_far_0.0001": 0.44, "far_at_threshold": 0.002,
                         "tar_at_threshold": 0.9},
        "nuaa-identity": {"tar_at_far_0.01": 0.89, "tar_at_far_0.001": 0.86,
                          "far_at_threshold": 0.0, "tar_at_threshold": 0.79},
        "scut_test_40_AF": {"far_at_threshold": 0.0005, "impostor_pairs": 44551},
    },
    "faceapi_descriptor": {"lfw-identity": {"tar_at_far_0.01": 0.45, "tar_at_far_0.001": 0.22}},
}
FAIRNESS = {
    names.GENDER: {
        "utkface_test": 0.86,
        "utkface_by_group": {
            "groups": {"White male": {"n": 300, "value": 0.91}, "Black female": {"n": 80,
                                                                             "value": 0.74},
                       "Asian male": {"n": 120, "value": 0.88}},
            "worst": "Black female", "worst_value": 0.74},
    },
    names.FACEAPI_AGE_GENDER: {
        "utkface_by_group": {"groups": {"Indian female": {"n": 50, "value": 0.8}},
                             "worst": "Indian female", "worst_value": 0.8}},
}


def decoded(path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def test_the_identity_roc_is_one_decodable_png_with_a_line_per_model_and_set(tmp_path):
    assert set(plots.roc_curves(IDENTITY)) == {
        (names.FACE_EMBEDDING, "lfw-identity"), (names.FACE_EMBEDDING, "nuaa-identity"),
        ("faceapi_descriptor", "lfw-identity")}
    assert plots.roc_points(IDENTITY[names.FACE_EMBEDDING]["lfw-identity"]) == [
        (0.0001, 0.44), (0.001, 0.66), (0.01, 0.88)]
    (path,) = plots.write_plots("identity", IDENTITY, tmp_path / "out")
    assert path == tmp_path / "out" / "identity-roc.png"
    pixels = decoded(path)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 400
    assert pixels.std() > 10  # lines and text drawn, not a blank canvas


def test_each_fairness_table_becomes_bars_with_the_worst_group_in_red(tmp_path):
    written = plots.write_plots("gender", FAIRNESS, tmp_path)
    assert [p.name for p in written] == [
        f"gender-fairness-{names.GENDER}.utkface_by_group.png",
        f"gender-fairness-{names.FACEAPI_AGE_GENDER}.utkface_by_group.png"]
    pixels = decoded(written[0])
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    blue = (pixels[..., 2] > 150) & (pixels[..., 0] < 80)
    assert red.sum() > 500 and blue.sum() > 2 * red.sum()  # one worst bar of three


def test_nothing_plottable_writes_nothing(tmp_path):
    assert plots.write_plots("detection", {"detection_rate": 0.99, "date": "x"}, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def tiny_evaluations(tmp_path, monkeypatch):
    """Two evaluation modules on disk: one prints identity and fairness figures as JSON (and
    misses a target: exit 1), one prints no JSON."""
    (tmp_path / "tiny_eval_figures.py").write_text(textwrap.dedent(f"""
        import json

        def main(data=None, as_json=False, limit=None):
            print("loading 3 images")
            print(json.dumps({json.dumps({**IDENTITY, **FAIRNESS})}) if as_json else "a table")
            return 1
    """))
    (tmp_path / "tiny_eval_silent.py").write_text(
        "def main(data=None, as_json=False, limit=None):\n    print('a table')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(evaluation.EVALUATIONS, "tiny", "tiny_eval_figures:main")
    monkeypatch.setitem(evaluation.EVALUATIONS, "silent", "tiny_eval_silent:main")
    return tmp_path


def test_eval_plots_writes_the_json_and_pngs_beside_it(tiny_evaluations, capsys):
    out_dir = tiny_evaluations / "results"
    assert main(["eval", "tiny", "--data", str(tiny_evaluations), "--plots", str(out_dir)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "loading 3 images"  # the evaluation's output passes through
    printed = json.loads(out.splitlines()[-1])
    assert json.loads((out_dir / "tiny.json").read_text()) == printed == {**IDENTITY, **FAIRNESS}
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert pngs == [f"tiny-fairness-{names.FACEAPI_AGE_GENDER}.utkface_by_group.png",
                    f"tiny-fairness-{names.GENDER}.utkface_by_group.png", "tiny-roc.png"]
    for name in pngs:
        assert decoded(out_dir / name).size > 0
    assert "wrote" in err and "tiny-roc.png" in err


def test_eval_plots_without_a_json_result_is_an_error(tiny_evaluations, capsys):
    out_dir = tiny_evaluations / "none"
    assert main(["eval", "silent", "--plots", str(out_dir)]) == 1
    assert "printed no JSON result" in capsys.readouterr().err
    assert not out_dir.exists()
