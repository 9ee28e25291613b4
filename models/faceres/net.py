"""``faceres`` in PyTorch: Keras' MobileNet v1 (13 depthwise-separable blocks, batch norm folded
into the weights, ReLU6) with a 256-d dense layer and age / gender heads on top.

Input: (N, 3, 224, 224) RGB 0..255 (the model's own scale: no normalisation), a face crop.
Weights are read from the package's TF.js graph (``model.json`` + shard) by name; the
architecture is fixed by those names. Convolutions use TensorFlow's SAME padding, which puts
the odd extra pixel of a stride-2 layer at the bottom/right.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.packages import HUMAN, fetch_file
from models.tfjs_graph import load

MEMBERS = ["models/faceres.json", "models/faceres.bin"]
BLOCKS = 13
POOLED_DIM, FEATS_DIM = 1024, 256


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow SAME padding of a square input (extra pixel bottom/right)."""
    size = int(x.shape[-1])
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))


class _Conv(nn.Module):
    """A TF conv (HWIO kernel; depthwise when ``groups`` > 1) + folded batch norm + ReLU6."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, stride: int, depthwise: bool,
                 scale: np.ndarray | None = None):
        super().__init__()
        k = kernel.shape[0]
        if depthwise:  # (k, k, C, 1) -> (C, 1, k, k), the batch-norm scale folded per channel
            weight = kernel.transpose(2, 3, 0, 1) * scale.reshape(-1, 1, 1, 1)
        else:          # (k, k, in, out) -> (out, in, k, k)
            weight = kernel.transpose(3, 2, 0, 1)
        channels = weight.shape[0]
        self.conv = nn.Conv2d(weight.shape[1] * (channels if depthwise else 1), channels, k,
                              stride, groups=channels if depthwise else 1)
        self.conv.weight.data = torch.from_numpy(np.ascontiguousarray(weight, np.float32))
        self.conv.bias.data = torch.from_numpy(np.asarray(bias, np.float32))
        self.kernel, self.stride = k, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.conv(_same_pad(x, self.kernel, self.stride)))


class FaceRes(nn.Module):
    """(N, 3, 224, 224) RGB 0..255 -> pooled (N, 1024), feats (N, 256), gender (N, 1) sigmoid
    (> 0.5 male), age (N, 100) softmax over years."""

    def __init__(self, consts: dict[str, np.ndarray], strides: list[int]):
        super().__init__()
        c = consts
        layers = [_Conv(c["conv1/convolution/merged_input"], c["conv1_bn/batchnorm_1/sub"], 2,
                        False)]
        for k in range(1, BLOCKS + 1):
            layers.append(_Conv(c[f"conv_dw_{k}/depthwise_kernel"],
                                c[f"conv_dw_{k}_bn/batchnorm_1/sub"],
                                strides[k - 1], True, c[f"conv_dw_{k}_bn/batchnorm_1/mul"]))
            layers.append(_Conv(c[f"conv_pw_{k}/convolution/merged_input"],
                                c[f"conv_pw_{k}_bn/batchnorm_1/sub"], 1, False))
        self.features = nn.Sequential(*layers)
        self.feats = _dense(c["feats/kernel"], c["feats/bias"])
        self.gender = _dense(c["gender_pred/kernel"], c["gender_pred/bias"])
        self.age = _dense(c["age_pred/kernel"], c["age_pred/bias"])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pooled = self.features(x).mean(dim=(2, 3))
        feats = F.relu(self.feats(pooled))
        gender, age = torch.sigmoid(self.gender(feats)), torch.softmax(self.age(feats), dim=1)
        return pooled, feats, gender, age


def _dense(kernel: np.ndarray, bias: np.ndarray) -> nn.Linear:
    layer = nn.Linear(*kernel.shape)
    layer.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T, np.float32))
    layer.bias.data = torch.from_numpy(np.asarray(bias, np.float32))
    return layer


def model_json() -> Path:
    """The TF.js model.json, its weight shard fetched beside it."""
    graph_json, _shard = (fetch_file(HUMAN, m) for m in MEMBERS)
    return graph_json


def load_faceres() -> FaceRes:
    graph = load(model_json())
    strides = [graph.nodes[f"conv_dw_{k}/depthwise"].ints("strides")[1]
               for k in range(1, BLOCKS + 1)]
    return FaceRes(graph.consts, strides).eval()
