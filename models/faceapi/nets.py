"""face-api's age/gender net (TinyXception) and expression net (4 dense blocks) in PyTorch.

Each follows the TypeScript of ``@vladmandic/face-api`` 1.7.15 (``src/xception/``,
``src/ageGenderNet/``, ``src/faceFeatureExtractor/``, ``src/faceExpressionNet/``) op for op,
including the order of additions, so that float results match TensorFlow.js closely. Inputs
are raw RGB 0..255, NCHW, 112x112: the normalisation is the first layer of the graph.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.faceapi.layers import (
    ConvSame,
    Dense,
    Normalise,
    SeparableConv,
    WeightMap,
    max_pool_same,
)

INPUT_SIZE = 112


class ReductionBlock(nn.Module):
    def __init__(self, weights: WeightMap, prefix: str, activate_input: bool = True):
        super().__init__()
        self.activate_input = activate_input
        self.separable0 = SeparableConv(weights, f"{prefix}/separable_conv0")
        self.separable1 = SeparableConv(weights, f"{prefix}/separable_conv1")
        self.expansion = ConvSame(weights, f"{prefix}/expansion_conv", stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(x) if self.activate_input else x
        out = self.separable0(out)
        out = self.separable1(F.relu(out))
        return max_pool_same(out, 3, 2) + self.expansion(x)


class MainBlock(nn.Module):
    def __init__(self, weights: WeightMap, prefix: str):
        super().__init__()
        self.convs = nn.ModuleList(
            SeparableConv(weights, f"{prefix}/separable_conv{i}") for i in range(3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for conv in self.convs:
            out = conv(F.relu(out))
        return out + x


class TinyXception(nn.Module):
    """Feature extractor of the age/gender net: (N, 3, 112, 112) -> (N, 512, 7, 7)."""

    def __init__(self, weights: WeightMap, main_blocks: int = 2):
        super().__init__()
        self.normalise = Normalise()
        self.conv_in = ConvSame(weights, "entry_flow/conv_in", stride=2)
        self.entry = nn.Sequential(
            ReductionBlock(weights, "entry_flow/reduction_block_0", activate_input=False),
            ReductionBlock(weights, "entry_flow/reduction_block_1"),
        )
        self.middle = nn.Sequential(
            *(MainBlock(weights, f"middle_flow/main_block_{i}") for i in range(main_blocks))
        )
        self.exit = ReductionBlock(weights, "exit_flow/reduction_block")
        self.exit_conv = SeparableConv(weights, "exit_flow/separable_conv")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv_in(self.normalise(x)))
        out = self.exit(self.middle(self.entry(out)))
        return F.relu(self.exit_conv(out))


class AgeGenderNet(nn.Module):
    """(N, 3, 112, 112) RGB 0..255 -> age in years (N,), gender softmax (N, 2) [male, female]."""

    def __init__(self, weights: WeightMap):
        super().__init__()
        self.features = TinyXception(weights)
        self.age = Dense(weights, "fc/age")
        self.gender = Dense(weights, "fc/gender")
        weights.finish()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = F.avg_pool2d(self.features(x), 7, 2).flatten(1)
        return self.age(pooled).squeeze(1), F.softmax(self.gender(pooled), dim=1)


class DenseBlock(nn.Module):
    """denseBlock4: four convs, each fed the relu of the sum of all earlier outputs."""

    def __init__(self, weights: WeightMap, prefix: str, first: bool = False):
        super().__init__()
        entry = ConvSame if first else SeparableConv
        self.conv0 = entry(weights, f"{prefix}/conv0", stride=2)
        self.convs = nn.ModuleList(SeparableConv(weights, f"{prefix}/conv{i}") for i in range(1, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [F.relu(self.conv0(x))]
        for conv in self.convs:
            outs.append(conv(F.relu(_nested_sum(outs))))
        return F.relu(_nested_sum(outs))


def _nested_sum(terms: list[torch.Tensor]) -> torch.Tensor:
    """a + (b + (c + d)): TensorFlow.js adds in this order, and float addition is not
    associative."""
    total = terms[-1]
    for term in reversed(terms[:-1]):
        total = term + total
    return total


class ExpressionNet(nn.Module):
    """(N, 3, 112, 112) RGB 0..255 -> softmax over 7 expressions (N, 7), face-api's order."""

    def __init__(self, weights: WeightMap):
        super().__init__()
        self.normalise = Normalise()
        self.blocks = nn.Sequential(
            DenseBlock(weights, "dense0", first=True),
            *(DenseBlock(weights, f"dense{i}") for i in range(1, 4)),
        )
        self.fc = Dense(weights, "fc")
        weights.finish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(self.blocks(self.normalise(x)), 7, 2).flatten(1)
        return F.softmax(self.fc(pooled), dim=1)
