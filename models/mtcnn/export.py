"""Export MTCNN's P/R/O-Nets (facenet-pytorch 2.6.0 weights) to ONNX, verified against torch.

Each net becomes its own served model (``mtcnn_pnet``, ``mtcnn_rnet``, ``mtcnn_onet``): the
detector calls them in turn, and R/O-Net batch over all candidates of an image.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.modelcard import ONNX_FILE, source_of
from models.mtcnn.nets import load_net
from models.onnx_check import max_abs_diff
from models.packages import FACENET_PYTORCH, fetch_file
from xcloud import names

OPSET = 17
TOLERANCE = 1e-5
NORMALISE = {"mean": 127.5, "scale": 0.0078125, "formula": "(x - 127.5) * 0.0078125"}


@dataclass(frozen=True)
class NetSpec:
    kind: str  # "pnet" | "rnet" | "onet"
    model: str  # served model name
    size: int | None  # fixed input side; None = any size >= 12 (fully convolutional)
    outputs: tuple[str, ...]
    output_shapes: tuple[list[Any], ...]
    summary: str
    check_shapes: tuple[tuple[int, int, int, int], ...]  # verification inputs

    @property
    def member(self) -> str:
        return f"facenet_pytorch/data/{self.kind}.pt"


SPECS: dict[str, NetSpec] = {
    "pnet": NetSpec(
        "pnet", names.MTCNN_PNET, None, ("box_regression", "face_probability"),
        (["batch", 4, "out_height", "out_width"], ["batch", 2, "out_height", "out_width"]),
        "MTCNN stage 1 (P-Net): fully convolutional face proposals, one 12x12 window per "
        "2 input pixels, on each level of an image pyramid.",
        ((1, 3, 12, 12), (2, 3, 37, 53), (1, 3, 161, 120)),
    ),
    "rnet": NetSpec(
        "rnet", names.MTCNN_RNET, 24, ("box_regression", "face_probability"),
        (["batch", 4], ["batch", 2]),
        "MTCNN stage 2 (R-Net): rejects and refines P-Net candidates from 24x24 crops.",
        ((1, 3, 24, 24), (7, 3, 24, 24)),
    ),
    "onet": NetSpec(
        "onet", names.MTCNN_ONET, 48, ("box_regression", "landmarks", "face_probability"),
        (["batch", 4], ["batch", 10], ["batch", 2]),
        "MTCNN stage 3 (O-Net): final face score, box refinement and 5 landmarks from 48x48 "
        "crops.",
        ((1, 3, 48, 48), (5, 3, 48, 48)),
    ),
}


def export_net(net: torch.nn.Module, spec: NetSpec, path: Path) -> None:
    side = spec.size or 12
    example = torch.zeros(1, 3, side, side)
    if spec.size is None:
        axes: dict[str, dict[int, str]] = {"input": {0: "batch", 2: "height", 3: "width"}}
        axes.update({name: {0: "batch", 2: "out_height", 3: "out_width"} for name in spec.outputs})
    else:
        axes = {name: {0: "batch"} for name in ("input", *spec.outputs)}
    torch.onnx.export(
        net, (example,), str(path), input_names=["input"], output_names=list(spec.outputs),
        dynamic_axes=axes, opset_version=OPSET, dynamo=False,
    )


def verify(net: torch.nn.Module, spec: NetSpec, path: Path) -> float:
    """Largest |onnxruntime - torch| over random inputs; raises when above TOLERANCE."""
    rng = np.random.default_rng(0)
    batches = [rng.uniform(-1.0, 1.0, shape).astype(np.float32) for shape in spec.check_shapes]
    return max_abs_diff(net, path, batches, TOLERANCE, spec.outputs)


def build(kind: str, folder: Path) -> dict[str, Any]:
    """Write ``model.onnx`` for one net into ``folder`` and return its model card."""
    spec = SPECS[kind]
    net = load_net(kind, str(fetch_file(FACENET_PYTORCH, spec.member)))
    export_net(net, spec, folder / ONNX_FILE)
    worst = verify(net, spec, folder / ONNX_FILE)
    return card_for(spec, worst)


def card_for(spec: NetSpec, worst: float) -> dict[str, Any]:
    side: list[Any] = ["height", "width"] if spec.size is None else [spec.size, spec.size]
    outputs = [
        {"name": n, "shape": s, "dtype": "float32"}
        for n, s in zip(spec.outputs, spec.output_shapes)
    ]
    return {
        "name": spec.model,
        "version": "1",
        "task": "face_detection",
        "summary": spec.summary,
        "inputs": [{"name": "input", "shape": ["batch", 3, *side], "dtype": "float32"}],
        "outputs": outputs,
        "labels": {"face_probability": ["not_face", "face"]},
        "preprocessing": {
            "color": "RGB", "layout": "NCHW", "dtype": "float32", **NORMALISE,
            "resize": "area averaging (torch interpolate mode='area')",
            "input_size": "any, at least 12x12" if spec.size is None else [spec.size, spec.size],
        },
        "source": source_of(FACENET_PYTORCH, [spec.member]),
        "license": "MIT",
        "training_data": "WIDER FACE + CelebA (original MTCNN authors)",
        "data_terms": (
            "Weights trained by the MTCNN authors (Zhang et al. 2016) on WIDER FACE and CelebA, "
            "both released for non-commercial research; redistributed under MIT by "
            "facenet-pytorch (port of davidsandberg/facenet)."
        ),
        "export": {"opset": OPSET, "torch": torch.__version__, "max_abs_diff_vs_torch": worst},
        "metrics": {},
    }
