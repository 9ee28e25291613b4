"""models.build: build what is missing, skip what is current, never leave half a model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import build, modelcard
from xcloud import names


class FakeExport:
    def __init__(self, fail: bool = False):
        self.runs = 0
        self.fail = fail

    def __call__(self, folder: Path) -> dict:
        self.runs += 1
        (folder / "model.onnx").write_bytes(b"onnx bytes %d" % self.runs)
        if self.fail:
            raise RuntimeError("onnxruntime differs from torch")
        return {"name": "demo", "version": "1", "metrics": {}}


def test_builds_once_then_skips_until_forced_or_changed(tmp_path: Path) -> None:
    export = FakeExport()
    builder = build.ModelBuilder("demo", "1", export)
    assert build.build_one(builder, tmp_path) == "built"
    folder = tmp_path / "demo" / "1"
    card = json.loads((folder / "model.json").read_text())
    assert card["artifact"]["sha256"] == modelcard.sha256_of(folder / "model.onnx")
    assert build.build_one(builder, tmp_path) == "present"
    assert build.build_one(builder, tmp_path, force=True) == "built"
    (folder / "model.onnx").write_bytes(b"tampered")
    assert build.build_one(builder, tmp_path) == "built"
    assert export.runs == 3
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["1"]


def test_a_change_to_the_committed_weights_rebuilds(tmp_path: Path) -> None:
    export, weights = FakeExport(), tmp_path / "head.npz"
    weights.write_bytes(b"trained once")
    builder = build.ModelBuilder("demo", "1", export, (weights,))
    repository = tmp_path / "repository"
    assert build.build_one(builder, repository) == "built"
    assert build.build_one(builder, repository) == "present"
    weights.write_bytes(b"trained again")
    assert build.build_one(builder, repository) == "built" and export.runs == 2


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="differs"):
        build.build_one(build.ModelBuilder("demo", "1", FakeExport(fail=True)), tmp_path)
    assert list((tmp_path / "demo").iterdir()) == []


def test_every_mtcnn_net_is_registered() -> None:
    built = [b.name for b in build.BUILDERS]
    assert set(names.MTCNN) <= set(built)
    assert len(built) == len(set(built))
