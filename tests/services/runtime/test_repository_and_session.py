"""Model repository layout, model cards, and onnxruntime session creation."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from models.modelcard import write_card
from services.runtime.errors import ModelNotInstalled
from services.runtime.pool import ModelPool
from services.runtime.repository import ModelRepository
from services.runtime.session import (
    LoadedModel,
    ProviderUnavailable,
    _check_no_silent_fallback,
    create_session,
)
from services.runtime.settings import ServiceSettings


def write_doubling_model(root: Path, name: str, version: str, card: dict) -> Path:
    """A real (tiny) ONNX model: y = x * 2 with a dynamic batch axis."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph([helper.make_node("Mul", ["input", "two"], ["output"])],
                              "double", [x], [y], [two])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder = root / name / version
    folder.mkdir(parents=True)
    onnx.save(model, folder / "model.onnx")
    (folder / "model.json").write_text(json.dumps(card))
    return folder


@pytest.fixture
def repository(tmp_path) -> ModelRepository:
    write_doubling_model(tmp_path, "double", "1", {"summary": "old", "metrics": {"acc": 0.5}})
    write_doubling_model(tmp_path, "double", "2", {"summary": "new", "license": "MIT",
                                                   "metrics": {"eval": {"acc": 0.9, "note": "x"}}})
    return ModelRepository(tmp_path)


def test_latest_version_is_served_by_default(repository):
    card = repository.get("double")
    assert (card.version, card.summary, card.license) == ("2", "new", "MIT")
    assert repository.get("double", "1").summary == "old"


def test_missing_model_says_how_to_build_it(repository):
    with pytest.raises(ModelNotInstalled, match="make models"):
        repository.get("absent")
    with pytest.raises(ModelNotInstalled, match="version 7"):
        repository.get("double", "7")


def test_metrics_are_flattened_and_written_back(repository):
    assert repository.get("double").headline_metrics() == {"eval.acc": 0.9}
    repository.write_metrics("double", {"detection_rate": 0.99})
    assert repository.get("double").metrics["detection_rate"] == 0.99


def test_a_misspelt_card_key_is_an_error_when_the_repository_loads_it(tmp_path):
    write_doubling_model(tmp_path, "typo", "1", {"servng": {"max_batch_size": 4}})
    write_doubling_model(tmp_path, "wrong_type", "1", {"serving": {"max_batch_size": "four"}})
    with pytest.raises(ValueError, match="servng"):
        ModelRepository(tmp_path).get("typo")
    with pytest.raises(ValueError, match="max_batch_size"):
        ModelRepository(tmp_path).get("wrong_type")


async def test_a_service_with_a_bad_card_does_not_start(tmp_path):
    write_doubling_model(tmp_path, "double", "1", {"labels": {"output": "not a list"}})
    pool = ModelPool(ServiceSettings(model_repository=tmp_path), ["double"])
    with pytest.raises(ValueError, match="labels"):
        await pool.start()
    await pool.stop()


def test_the_writer_validates_with_the_readers_type(tmp_path):
    folder = write_doubling_model(tmp_path, "double", "1", {})
    with pytest.raises(ValueError, match="sumary"):
        write_card(folder, {"sumary": "misspelt"})
    write_card(folder, {"summary": "doubles", "serving": {"max_batch_size": 4}})
    card = ModelRepository(tmp_path).get("double")
    assert (card.summary, card.serving.max_batch_size, card.artifact.file) == \
        ("doubles", 4, "model.onnx")


def test_loaded_model_runs_on_cpu(repository):
    model = LoadedModel(repository.get("double"), ["CPUExecutionProvider"])
    (out,) = model.run(np.ones((4, 3), np.float32))
    np.testing.assert_array_equal(out, np.full((4, 3), 2.0))


def test_gpu_requested_on_a_machine_without_one_fails_loudly(repository):
    with pytest.raises(ProviderUnavailable, match="onnxruntime-gpu"):
        create_session(str(repository.get("double").onnx_path),
                       ["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_silent_cpu_fallback_is_refused_simulated_gpu_session():
    # No GPU here: the active provider list a GPU build would report after a fallback is simulated.
    with pytest.raises(ProviderUnavailable, match="runs on"):
        _check_no_silent_fallback(["CUDAExecutionProvider", "CPUExecutionProvider"],
                                  ["CPUExecutionProvider"], "m.onnx")
    _check_no_silent_fallback(["CUDAExecutionProvider"], ["CUDAExecutionProvider"], "m.onnx")
