"""The served per-face attributes model: ONE ONNX graph, the HMT-Net shape. A shared trunk (the
frozen features of the nets the heads read, ``features.FaceFeatures``) runs once per face and
four heads read it: age, gender, race and beauty.

One graph (not trunk + head graphs) because every head is a single linear layer: the heads
cost nothing next to the trunk, one session keeps the batcher, warm-up and metrics one thing,
and no feature tensor of ~12k floats per face crosses between sessions. The identity embedding
is its own graph (``face_embedding_xcloud``, models.identity.export) because it reads FaceNet
alone, a net no attribute head reads: in the trunk it would add ~45 % to every attributes call
that does not ask for the embedding, and shares nothing with the heads. The face_attributes
service runs both graphs on the same batch of crops when both are asked for.

Input ``input``: (batch, 3, 224, 224) float32 RGB 0..255 of the face aligned at margin
``INPUT_MARGIN`` (the service cuts it from the gateway's shared crop with ``reframe``).
Outputs: ``age`` (batch, 1) years, ``gender`` (batch, 2) [male, female], ``race`` (batch, 5)
UTKFace's order, ``beauty`` (batch, 1) on SCUT-FBP5500's 1..5 scale. Each head is a
``LinearHead`` committed under ``weights/``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.attributes.data import GENDERS, UTK_RACES
from models.attributes.export import (
    BEAUTY,
    GENDER,
    RACE,
    SCUT_TERMS,
    UTK_TERMS,
    WEIGHTS_DIR,
    preprocessing,
    sources,
)
from models.attributes.features import (
    INPUT_SIZE,
    NETS,
    OPSET,
    FaceFeatures,
    columns,
    net_columns,
    width,
)
from models.attributes.linear import LinearHead
from models.faceapi.export import SPECS as FACEAPI_SPECS
from models.faceapi.export import load_net
from models.mobilenet.export import IMAGENET_TERMS
from models.modelcard import ONNX_FILE
from models.onnx_check import max_abs_diff, pixel_batches
from xcloud import names

TRUNK = names.FACE_TRUNK
AGE = names.AGE
FACEAPI_AGE = "faceapi_age"  # face-api's own age layer, read off the trunk's TinyXception
# Per output, in its own unit: probabilities drift ~1e-4 in float32 (export.TOLERANCE), beauty
# (rating points) ~1e-3 on random pixels, age (years) ~6e-3 since its head was fitted on ~5k
# faces with a lighter penalty: 1e-2 years is under four days.
TRUNK_TOLERANCE = {"age": 1e-2, "gender": 2e-3, "race": 2e-3, "beauty": 2e-3}


@dataclass(frozen=True)
class HeadSpec:
    output: str
    weights: str         # stem under weights/ (or FACEAPI_AGE)
    kind: str            # "score" or "softmax"
    labels: tuple[str, ...] = ()


HEADS = (
    HeadSpec("age", AGE, "score"),
    HeadSpec("gender", GENDER, "softmax", GENDERS),
    HeadSpec("race", RACE, "softmax", UTK_RACES),
    HeadSpec("beauty", BEAUTY, "score"),
)
OUTPUTS = tuple(h.output for h in HEADS)


def faceapi_age_head() -> LinearHead:
    """face-api's age regression as a head on the trunk: its dense layer reads the pooled
    512-channel output of TinyXception, which the trunk computes (``xception.pooled``)."""
    net = load_net(FACEAPI_SPECS[names.FACEAPI_AGE_GENDER])
    pooled = columns(["xception.pooled"], ("xception",))[-512:]
    weight = np.zeros((1, width(("xception",))), np.float32)
    weight[:, pooled] = net.age.linear.weight.detach().numpy()
    bias = net.age.linear.bias.detach().numpy().astype(np.float32)
    return LinearHead(("xception",), weight, bias, {"method": "face-api fc/age (pretrained)"})


def load_head(stem: str) -> LinearHead:
    if stem == FACEAPI_AGE:
        return faceapi_age_head()
    return LinearHead.load(WEIGHTS_DIR / stem)


def age_stem() -> str:
    """The trained age head when committed, else face-api's (the trainer writes the winner)."""
    return AGE if (WEIGHTS_DIR / f"{AGE}.npz").is_file() else FACEAPI_AGE


def trunk_nets(heads: dict[str, LinearHead]) -> tuple[str, ...]:
    """The nets any head reads, in NETS order: the trunk computes these and no other."""
    return tuple(n for n in NETS if any(n in head.nets for head in heads.values()))


def spread(head: LinearHead, nets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The head's weights spread onto the features of ``nets`` (zero elsewhere)."""
    weight = np.zeros((head.weight.shape[0], width(nets)), np.float32)
    weight[:, net_columns(head.nets, nets)] = head.weight
    return weight, head.bias.astype(np.float32)


class FaceTrunk(nn.Module):
    """(N, 3, 224, 224) RGB 0..255 -> (age, gender, race, beauty)."""

    def __init__(self, heads: dict[str, LinearHead]):
        super().__init__()
        self.nets = trunk_nets(heads)
        self.features = FaceFeatures(self.nets)
        self.kinds = [h.kind for h in HEADS]
        self.heads = nn.ModuleList()
        for spec in HEADS:
            weight, bias = spread(heads[spec.output], self.nets)
            layer = nn.Linear(weight.shape[1], weight.shape[0])
            layer.weight.data, layer.bias.data = torch.from_numpy(weight), torch.from_numpy(bias)
            self.heads.append(layer)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        shared = self.features(x)
        return tuple(_finish(layer(shared), kind) for layer, kind in zip(self.heads, self.kinds))


def _finish(out: torch.Tensor, kind: str) -> torch.Tensor:
    return torch.softmax(out, dim=1) if kind == "softmax" else out


def committed_heads() -> dict[str, LinearHead]:
    stems = {h.output: (age_stem() if h.output == "age" else h.weights) for h in HEADS}
    return {output: load_head(stem) for output, stem in stems.items()}


def output_shapes(heads: dict[str, LinearHead]) -> list[dict[str, Any]]:
    return [{"name": h.output, "shape": ["batch", int(heads[h.output].weight.shape[0])],
             "dtype": "float32"} for h in HEADS]


def example_input() -> torch.Tensor:
    return torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)


def export_trunk(module: FaceTrunk, path: Path) -> None:
    """Write the trunk as ONNX with a dynamic batch on the input and every output."""
    axes = {name: {0: "batch"} for name in ("input", *OUTPUTS)}
    torch.onnx.export(module.eval(), (example_input(),), str(path), input_names=["input"],
                      output_names=list(OUTPUTS), dynamic_axes=axes, opset_version=OPSET,
                      dynamo=False)


def build(folder: Path) -> dict[str, Any]:
    """Write ``folder/model.onnx`` from the committed heads; returns its card."""
    heads = committed_heads()
    net = FaceTrunk(heads).eval()
    export_trunk(net, folder / ONNX_FILE)
    worst = max_abs_diff(net, folder / ONNX_FILE, pixel_batches(INPUT_SIZE), TRUNK_TOLERANCE)
    return trunk_card(heads, worst)


def trunk_card(heads: dict[str, LinearHead], worst: float) -> dict[str, Any]:
    nets = trunk_nets(heads)
    return {
        "name": TRUNK, "version": "1", "task": "face_attributes",
        "summary": f"Shared face trunk ({len(nets)} frozen nets, one pass) with age, gender, "
                   "race and beauty heads.",
        "inputs": [{"name": "input", "shape": ["batch", 3, INPUT_SIZE, INPUT_SIZE],
                    "dtype": "float32"}],
        "outputs": output_shapes(heads),
        "labels": {h.output: list(h.labels) for h in HEADS if h.labels},
        "preprocessing": preprocessing("none in the graph; the service's `accurate` mode "
                                       "averages the outputs of the crop and its mirror image"),
        "heads": {h.output: {k: v for k, v in heads[h.output].record.items() if k != "metrics"}
                  for h in HEADS},
        "training_data": {h.output: heads[h.output].record.get("training_data", "")
                          for h in HEADS},
        "data_terms": f"{UTK_TERMS} {SCUT_TERMS} {IMAGENET_TERMS}",
        "export": {"opset": OPSET, "torch": torch.__version__, "max_abs_diff_vs_torch": worst},
        "metrics": {h.output: heads[h.output].record.get("metrics", {}) for h in HEADS},
        **sources(nets),
    }
