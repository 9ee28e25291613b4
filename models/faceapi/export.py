"""Export the face-api nets to ONNX (dynamic batch, normalisation folded in), verified vs torch.

Served models: ``faceapi_age_gender``, ``faceapi_expression``, ``faceapi_recognition``. Each
takes raw RGB 0..255 as float32 NCHW at a fixed side, so a service feeds its uint8 crops as they
are; parity with face-api's own TensorFlow.js runtime is held by ``tests/parity``.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.faceapi import nets, recognition
from models.faceapi.layers import MEAN_RGB, SCALE, WeightMap
from models.faceapi.weights import FACE_API, load_weights, members
from models.modelcard import ONNX_FILE, source_of
from models.onnx_check import max_abs_diff, pixel_batches
from xcloud import names

OPSET = 18
TOLERANCE = 1e-4
EXPRESSION_LABELS = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
GENDER_LABELS = ["male", "female"]


@dataclass(frozen=True)
class FaceApiSpec:
    model: str          # served model name
    weights: str        # face-api's model name in package/model/
    net: Callable[[WeightMap], nn.Module]
    size: int
    outputs: dict[str, list[Any]]  # output name -> shape
    labels: dict[str, list[str]]
    summary: str
    task: str
    card_extra: dict[str, Any] = field(default_factory=dict)


SPECS: dict[str, FaceApiSpec] = {s.model: s for s in (
    FaceApiSpec(
        names.FACEAPI_AGE_GENDER, "age_gender_model", nets.AgeGenderNet, nets.INPUT_SIZE,
        {"age": ["batch"], "gender": ["batch", 2]}, {"gender": GENDER_LABELS},
        "face-api AgeGenderNet (TinyXception, 112x112): age in years (regression) and gender "
        "softmax [male, female].", "face_attributes",
        {"caveats": "Age is crop-sensitive: the same face framed tighter or looser moves the "
                    "estimate by years (python -m models.evaluation.age --sweep measures it)."},
    ),
    FaceApiSpec(
        names.FACEAPI_EXPRESSION, "face_expression_model", nets.ExpressionNet, nets.INPUT_SIZE,
        {"probabilities": ["batch", 7]}, {"probabilities": EXPRESSION_LABELS},
        "face-api FaceExpressionNet (4 dense blocks, 112x112): softmax over 7 expressions.",
        "expression",
        {"caveats": "No redistributable labelled expression set exists here: accuracy is measured "
                    "only on a set a user supplies (xcloud eval expression --data DIR)."},
    ),
    FaceApiSpec(
        names.FACEAPI_RECOGNITION, "face_recognition_model", recognition.RecognitionNet,
        recognition.INPUT_SIZE, {"embedding": ["batch", recognition.DESCRIPTOR_SIZE]}, {},
        "face-api FaceRecognitionNet (ResNet-34-like port of dlib's, 150x150): 128-d face "
        "descriptor; same person when the Euclidean distance is < "
        f"{recognition.SAME_PERSON_DISTANCE}.",
        "face_embedding", {"same_person_distance": recognition.SAME_PERSON_DISTANCE},
    ),
)}


def load_net(spec: FaceApiSpec) -> nn.Module:
    """The PyTorch net with the pinned package's weights, in eval mode."""
    return spec.net(WeightMap(load_weights(spec.weights))).eval()


def export_net(net: nn.Module, spec: FaceApiSpec, path: Path) -> None:
    """torch.export-based ONNX: the SAME paddings become Conv/Pad attributes of a clean graph
    (the TorchScript exporter leaves a Slice/Transpose chain per Pad that only folds at load)."""
    example = torch.zeros(1, 3, spec.size, spec.size)
    with _quiet_exporter():
        program = torch.onnx.export(
            net, (example,), input_names=["input"], output_names=list(spec.outputs),
            dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, opset_version=OPSET,
            dynamo=True, verbose=False,
        )
    program.save(str(path))


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Mute the exporter's notices that concern neither these nets nor the user (missing
    torchvision ops, a deprecation inside torch.export), so ``make models`` stays readable."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        registration.setLevel(level)


def verify(net: nn.Module, spec: FaceApiSpec, path: Path) -> float:
    """Largest |onnxruntime - torch| on random pixel batches of 1 and 3; raises above TOLERANCE."""
    return max_abs_diff(net, path, pixel_batches(spec.size), TOLERANCE, spec.outputs)


def build(model: str, folder: Path) -> dict[str, Any]:
    """Write ``model.onnx`` for one served model into ``folder`` and return its model card."""
    spec = SPECS[model]
    net = load_net(spec)
    export_net(net, spec, folder / ONNX_FILE)
    return card_for(spec, verify(net, spec, folder / ONNX_FILE))


def card_for(spec: FaceApiSpec, worst: float) -> dict[str, Any]:
    return {
        "name": spec.model,
        "version": "1",
        "task": spec.task,
        "summary": spec.summary,
        "inputs": [{"name": "input", "shape": ["batch", 3, spec.size, spec.size],
                    "dtype": "float32"}],
        "outputs": [{"name": n, "shape": s, "dtype": "float32"} for n, s in spec.outputs.items()],
        "labels": spec.labels,
        "preprocessing": {
            "color": "RGB", "layout": "NCHW", "dtype": "float32", "range": "0..255 (raw pixels)",
            "input_size": [spec.size, spec.size],
            "normalisation": f"folded into the graph: (x - {list(MEAN_RGB)}) / {SCALE:g}",
            "trained_on": "detector boxes zero-padded to a centred square (face-api's NetInput); "
                          "XCloud feeds landmark-aligned crops at the margin its services chose "
                          "on labelled faces (services/face_attributes/parts.py)",
        },
        "source": source_of(FACE_API, members(spec.weights)),
        "license": "MIT",
        "training_data": "not published by face-api's author (weights trained by Vincent Mühler, "
                         "justadudewhohacks/face-api.js; recognition net ported from dlib)",
        "data_terms": "Weights redistributed under MIT in the npm package; the training sets and "
                      "their terms are not stated upstream.",
        "export": {"opset": OPSET, "torch": torch.__version__, "max_abs_diff_vs_torch": worst},
        "metrics": {},
        **spec.card_extra,
    }
