"""TensorFlow.js building blocks of the face-api nets, in PyTorch, loaded from a weight map.

TensorFlow's ``SAME`` padding is asymmetric when the total is odd: the extra row and column go
to the bottom and right. PyTorch's ``padding=`` is symmetric, so every ``SAME`` op pads
explicitly first (max pooling pads with -inf, which is what "ignore the padding" means there).
The nets take a fixed input size, so the paddings are constants of the exported graph.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.faceapi.weights import conv_filter, dense_weight, depthwise_filter

# face-api's NetInput normalisation: (RGB - mean) / 255 (ops/normalize.ts, then .div(255)).
MEAN_RGB = (122.782, 117.001, 104.298)
SCALE = 255.0


class WeightMap:
    """The tensors of one manifest; each is taken once, and leftovers are an error."""

    def __init__(self, tensors: dict[str, np.ndarray]):
        self._left = dict(tensors)

    def take(self, name: str) -> np.ndarray:
        if name not in self._left:
            raise KeyError(f"weight {name} is missing from the manifest (or was used twice)")
        return self._left.pop(name)

    def finish(self) -> None:
        if self._left:
            raise ValueError(f"weights not used by the net: {sorted(self._left)}")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of one axis under TensorFlow's SAME rule."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    top, bottom = same_padding(int(x.shape[2]), kernel, stride)
    left, right = same_padding(int(x.shape[3]), kernel, stride)
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom), value=value)


def max_pool_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    return F.max_pool2d(pad_same(x, kernel, stride, float("-inf")), kernel, stride)


class Normalise(nn.Module):
    """Raw RGB 0..255 (NCHW float) -> face-api's network input, folded into the graph."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / SCALE


def _conv(weight: torch.Tensor, bias: np.ndarray | None, stride: int = 1,
          groups: int = 1) -> nn.Conv2d:
    out_ch, in_per_group, kh, kw = weight.shape
    conv = nn.Conv2d(in_per_group * groups, out_ch, (kh, kw), stride, groups=groups,
                     bias=bias is not None)
    conv.weight.data.copy_(weight)
    if bias is not None:
        conv.bias.data.copy_(torch.from_numpy(bias))
    return conv


class ConvSame(nn.Module):
    """tf.conv2d(x, filters, stride, padding) + bias (common/convLayer.ts)."""

    def __init__(self, weights: WeightMap, prefix: str, stride: int, same: bool = True):
        super().__init__()
        filters = conv_filter(weights.take(f"{prefix}/filters"))
        self.conv = _conv(filters, weights.take(f"{prefix}/bias"), stride)
        self.stride, self.same = stride, same

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same:
            x = pad_same(x, self.conv.kernel_size[0], self.stride)
        return self.conv(x)


class SeparableConv(nn.Module):
    """tf.separableConv2d(x, depthwise, pointwise, stride, 'same') + bias."""

    def __init__(self, weights: WeightMap, prefix: str, stride: int = 1):
        super().__init__()
        depthwise = depthwise_filter(weights.take(f"{prefix}/depthwise_filter"))
        self.depthwise = _conv(depthwise, None, stride, groups=depthwise.shape[0])
        self.pointwise = _conv(conv_filter(weights.take(f"{prefix}/pointwise_filter")),
                               weights.take(f"{prefix}/bias"))
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.depthwise(pad_same(x, self.depthwise.kernel_size[0], self.stride))
        return self.pointwise(x)


class Dense(nn.Module):
    """tf.matMul(x, weights) + bias (common/fullyConnectedLayer.ts)."""

    def __init__(self, weights: WeightMap, prefix: str):
        super().__init__()
        weight = dense_weight(weights.take(f"{prefix}/weights"))
        self.linear = nn.Linear(weight.shape[1], weight.shape[0])
        self.linear.weight.data.copy_(weight)
        self.linear.bias.data.copy_(torch.from_numpy(weights.take(f"{prefix}/bias")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)
