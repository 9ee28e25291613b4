"""face-api's face recognition net (a port of dlib's ResNet-34-like descriptor) in PyTorch.

Follows ``src/faceRecognitionNet/`` of ``@vladmandic/face-api`` 1.7.15: every conv is followed
by its bias and a per-channel scale layer (x * weights + biases); down-sampling residual blocks
use a stride-2 'valid' conv, while the shortcut is a 2x2 average pool zero-padded in channels.
When the two branches differ in size (8 -> 3 vs 4, 4 -> 1 vs 2) face-api appends a zero row
and a zero column to the conv branch, which we reproduce. Input: raw RGB 0..255, NCHW 150x150.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.faceapi.layers import ConvSame, Normalise, WeightMap

INPUT_SIZE = 150
DESCRIPTOR_SIZE = 128
SAME_PERSON_DISTANCE = 0.6  # Euclidean distance below which two descriptors are one person
# (block name, down-sampling?) in network order
BLOCKS = (
    [("conv32_1", False), ("conv32_2", False), ("conv32_3", False)]
    + [("conv64_down", True), ("conv64_1", False), ("conv64_2", False), ("conv64_3", False)]
    + [("conv128_down", True), ("conv128_1", False), ("conv128_2", False)]
    + [("conv256_down", True), ("conv256_1", False), ("conv256_2", False)]
    + [("conv256_down_out", True)]
)


class ScaledConv(nn.Module):
    """conv + bias, then the scale layer (faceRecognitionNet/convLayer.ts)."""

    def __init__(self, weights: WeightMap, prefix: str, stride: int, same: bool, relu: bool):
        super().__init__()
        self.conv = ConvSame(weights, f"{prefix}/conv", stride, same)
        self.register_buffer("scale", _channels(weights.take(f"{prefix}/scale/weights")))
        self.register_buffer("shift", _channels(weights.take(f"{prefix}/scale/biases")))
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x) * self.scale + self.shift
        return F.relu(out) if self.relu else out


def _channels(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(values).view(1, -1, 1, 1)


class Residual(nn.Module):
    def __init__(self, weights: WeightMap, prefix: str, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = ScaledConv(weights, f"{prefix}/conv1", 2 if down else 1, same=not down,
                                relu=True)
        self.conv2 = ScaledConv(weights, f"{prefix}/conv2", 1, same=True, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        if not self.down:
            return F.relu(out + x)
        shortcut = F.avg_pool2d(x, 2, 2)
        if shortcut.shape[2:] != out.shape[2:]:
            out = F.pad(out, (0, 1, 0, 1))  # face-api's appended zero row and column
        if shortcut.shape[1] != out.shape[1]:
            shortcut = torch.cat([shortcut, torch.zeros_like(shortcut)], dim=1)
        return F.relu(shortcut + out)


class RecognitionNet(nn.Module):
    """(N, 3, 150, 150) RGB 0..255 -> 128-d face descriptor (N, 128), not normalised."""

    def __init__(self, weights: WeightMap):
        super().__init__()
        self.normalise = Normalise()
        self.stem = ScaledConv(weights, "conv32_down", 2, same=False, relu=True)
        self.blocks = nn.Sequential(*(Residual(weights, name, down) for name, down in BLOCKS))
        self.register_buffer("fc", torch.from_numpy(weights.take("fc")))  # (256, 128), no bias
        weights.finish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.max_pool2d(self.stem(self.normalise(x)), 3, 2)
        out = self.blocks(out)
        return out.mean(dim=(2, 3)) @ self.fc
