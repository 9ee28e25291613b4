"""MTB-DNN (the seed's "MTNet") and the study's MLP, over the 23 raw ZhihuLiveDB features.

The seed (lucasxlu/ZhihuDataDriven, analysis/models.py) defines MTNet as a shared trunk
23-16-8-8 (ReLU) feeding three branches 8-4-1, 8-3-1 and 8-5-1 (ReLU6 inside), whose outputs
are averaged. Its ``MTLoss`` (the sum of the branch losses over k) supervises every branch,
which training.py does through ``branch_outputs``; the seed's own script fitted the average
with MSE. The study's MLP is the same trunk with one linear 8-1 head (``branches=()``).

Every layer carries a leading *members* axis so that several seeds train in one pass (on a
shared CPU the per-step overhead, not arithmetic, is the cost); ``member(k)`` takes one of
them out as a one-member network, which is what gets exported. The input scaling is part of
the network (fixed buffers), so the exported graph takes the raw features a caller sends.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

TRUNK = (16, 8, 8)
BRANCHES = (4, 3, 5)
SCORE_RANGE = (0.0, 5.0)  # review scores are 0..5 stars


class StackedLinear(nn.Module):
    """``members`` independent linear layers applied to (members, n, in) at once."""

    def __init__(self, members: int, inputs: int, outputs: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, inputs, outputs))
        self.bias = nn.Parameter(torch.empty(members, 1, outputs))

    def reset(self, member: int, generator: torch.Generator) -> None:
        """nn.Linear's default initialisation, drawn for one member from its own generator."""
        bound = 1.0 / math.sqrt(self.weight.shape[1])
        with torch.no_grad():
            for tensor in (self.weight[member], self.bias[member]):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 2 * bound - bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class FeatureScaler(nn.Module):
    """log1p of the heavy-tailed columns, then min-max to [0, 1] with constants from TRAIN.

    The study min-max scales the raw columns; but liked_num, seats_taken or duration span five
    to six orders of magnitude, so raw scaling squeezes almost every Live into the first
    percent of the range. log1p first keeps them apart: on rows held out from TRAIN it took the
    5-seed validation RMSE from 0.367 to 0.351 (0.362 to 0.358 with an MSE loss). The constants
    are buffers, so the exported graph does the scaling.
    """

    def __init__(self, log_mask: np.ndarray, low: np.ndarray, scale: np.ndarray):
        super().__init__()
        self.register_buffer("log_mask", torch.tensor(log_mask, dtype=torch.bool))
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))

    @classmethod
    def fitted(cls, features: np.ndarray, log_mask: np.ndarray) -> FeatureScaler:
        logged = np.where(log_mask, np.log1p(features), features)
        low, high = logged.min(axis=0), logged.max(axis=0)
        return cls(log_mask, low, 1.0 / np.where(high > low, high - low, 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # inputs are validated non-negative, so log1p is defined wherever it is taken
        return (torch.where(self.log_mask, torch.log1p(x), x) - self.low) * self.scale


class MultiBranchNet(nn.Module):
    """Raw features (members, n, 23) -> one prediction per branch (members, n, branches)."""

    def __init__(self, scaler: FeatureScaler, seeds: Sequence[int] = (0,),
                 branches: Sequence[int] = BRANCHES, trunk: Sequence[int] = TRUNK):
        super().__init__()
        members, widths = len(seeds), (len(scaler.low), *trunk)
        self.seeds, self.branches, self.trunk_widths = tuple(seeds), tuple(branches), tuple(trunk)
        self.scaler = scaler
        self.trunk = nn.ModuleList(
            StackedLinear(members, a, b) for a, b in itertools.pairwise(widths)
        )
        if branches:
            self.hidden = nn.ModuleList(StackedLinear(members, trunk[-1], w) for w in branches)
            self.heads = nn.ModuleList(StackedLinear(members, w, 1) for w in branches)
        else:  # the study's MLP: one linear head on the trunk
            self.hidden = nn.ModuleList()
            self.heads = nn.ModuleList([StackedLinear(members, trunk[-1], 1)])
        for member, seed in enumerate(self.seeds):
            generator = torch.Generator().manual_seed(seed)
            for layer in self.layers():
                layer.reset(member, generator)

    def layers(self) -> list[StackedLinear]:
        return [*self.trunk, *self.hidden, *self.heads]

    def start_at(self, value: float) -> None:
        """Set every head's bias to ``value`` (the training mean) so training starts centred."""
        with torch.no_grad():
            for head in self.heads:
                head.bias.fill_(value)

    def branch_outputs(self, x: torch.Tensor) -> torch.Tensor:
        h = self.scaler(x)
        for layer in self.trunk:
            h = torch.relu(layer(h))
        if not self.branches:
            return self.heads[0](h)
        return torch.cat(
            [head(nn.functional.relu6(hidden(h))) for hidden, head in zip(self.hidden, self.heads)],
            dim=-1,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(members, n) review scores: the branches' mean, clipped to the 0..5 star range."""
        return self.branch_outputs(x).mean(dim=-1).clamp(*SCORE_RANGE)

    def member(self, index: int) -> MultiBranchNet:
        """A one-member copy holding member ``index``'s weights."""
        single = MultiBranchNet(self.scaler, (self.seeds[index],), self.branches, self.trunk_widths)
        with torch.no_grad():
            for mine, theirs in zip(single.layers(), self.layers()):
                mine.weight.copy_(theirs.weight[index : index + 1])
                mine.bias.copy_(theirs.bias[index : index + 1])
        return single.eval()


class Scorer(nn.Module):
    """The served form of a one-member network: raw features (n, 23) -> review scores (n,)."""

    def __init__(self, net: MultiBranchNet):
        super().__init__()
        if len(net.seeds) != 1:
            raise ValueError("export one member at a time (MultiBranchNet.member)")
        self.net = net

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features.unsqueeze(0))[0]


def save(net: MultiBranchNet, path: Path) -> None:
    """Every tensor of a network as plain arrays (``.npz``, no pickles)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{name: t.detach().numpy() for name, t in net.state_dict().items()})


def load(
    path: Path, seed: int, branches: Sequence[int], trunk: Sequence[int] = TRUNK
) -> MultiBranchNet:
    """The one-member network ``save`` wrote (architecture from its training record)."""
    with np.load(path, allow_pickle=False) as arrays:
        state = {name: torch.from_numpy(arrays[name]) for name in arrays.files}
    scaler = FeatureScaler(*(state[f"scaler.{b}"].numpy() for b in ("log_mask", "low", "scale")))
    net = MultiBranchNet(scaler, (seed,), branches, trunk)
    net.load_state_dict(state)
    return net.eval()
