"""Fitting MultiBranchNet members (one per seed) with early stopping on TRAIN's validation rows.

Recipe (the protocol fixes the data, not the optimisation; what it leaves open was chosen on
the validation rows, never on TEST): Adam, batch 128, learning rate 3e-3; every branch is
supervised (the seed's MTLoss: the mean of the branch losses) with a Huber loss of delta 0.1,
which behaves like L1 for all but the smallest errors: the study is judged on MAE as much as
RMSE, and the scores have a long low tail (1.9 .. 5) that pulls an MSE fit (5-seed validation
MAE / RMSE 0.232 / 0.351 against 0.245 / 0.358 with MSE, log-scaled inputs both). Each member keeps
the weights of its epoch with the lowest validation RMSE and stops after ``patience`` epochs
without improvement. Each member draws its initial weights and batch order from its own seed;
the same seeds give the same weights again.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from models.text_quality.dataset import validation_split
from models.text_quality.network import BRANCHES, FeatureScaler, MultiBranchNet
from services.text_quality.fields import CEILING, FIELDS

Log = Callable[[str], None]
# Counts, durations and prices (every field not a flag or a small code) are log-scaled.
LOG_MASK = np.array([spec.high == CEILING for spec in FIELDS])


@dataclass(frozen=True)
class TrainConfig:
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    branches: tuple[int, ...] = BRANCHES  # () trains the study's MLP
    batch_size: int = 128
    learning_rate: float = 3e-3
    huber_delta: float = 0.1
    max_epochs: int = 300
    patience: int = 30
    validation_fraction: float = 0.15

    def as_record(self) -> dict:
        return asdict(self)


def errors(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """MAE and RMSE, the study's two figures."""
    diff = np.asarray(predicted, np.float64) - np.asarray(truth, np.float64)
    return {"mae": float(np.mean(np.abs(diff))), "rmse": float(np.sqrt(np.mean(diff**2)))}


def predict(net: MultiBranchNet, features: np.ndarray) -> np.ndarray:
    """(members, n) review scores of raw feature rows."""
    x = torch.as_tensor(features, dtype=torch.float32)
    with torch.no_grad():
        return net.eval()(x.expand(len(net.seeds), *x.shape)).numpy()


@dataclass
class Trained:
    net: MultiBranchNet                   # every member at its best validation epoch
    best_epochs: list[int]
    validation: list[dict[str, float]]    # per member, at that epoch


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Layers of 3 to 23 units gain nothing from threads, and on a busy machine the hand-offs
    between them cost more than the arithmetic (15x here); one thread also fixes the sums."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train(
    features: np.ndarray, targets: np.ndarray, config: TrainConfig, log: Log = print
) -> Trained:
    """One member per seed, fitted on TRAIN rows (raw features) and validated on rows from them."""
    with _one_thread():
        return _train(features, targets, config, log)


def _train(features: np.ndarray, targets: np.ndarray, config: TrainConfig, log: Log) -> Trained:
    fit_rows, val_rows = validation_split(len(features), config.validation_fraction)
    scaler = FeatureScaler.fitted(features[fit_rows], LOG_MASK)
    net = MultiBranchNet(scaler, config.seeds, config.branches)
    net.start_at(float(targets[fit_rows].mean()))
    best, state = copy.deepcopy(net), _EarlyStopping(len(config.seeds), config.patience)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(targets, dtype=torch.float32)
    shufflers = [torch.Generator().manual_seed(seed) for seed in config.seeds]
    for epoch in range(config.max_epochs):
        net.train()
        for rows in _batches(fit_rows, shufflers, config.batch_size):
            optimiser.zero_grad()
            outputs = net.branch_outputs(x[rows])
            loss = nn.functional.huber_loss(outputs, y[rows].unsqueeze(-1).expand_as(outputs),
                                            delta=config.huber_delta)
            loss.backward()
            optimiser.step()
        scores = predict(net, features[val_rows])
        improved = state.update(epoch, [errors(s, targets[val_rows]) for s in scores])
        _copy_members(net, best, improved)
        if epoch % 10 == 0 or state.done(epoch):
            rmse = " ".join(f"{m['rmse']:.4f}" for m in state.metrics)
            log(f"  epoch {epoch:3d}  validation RMSE {rmse}")
        if state.done(epoch):
            break
    return Trained(best.eval(), state.epochs, state.metrics)


def _batches(rows: np.ndarray, shufflers: list[torch.Generator], size: int):
    """Index tensors (members, size): every member walks the rows in its own order."""
    rows = torch.as_tensor(rows)
    order = torch.stack([rows[torch.randperm(len(rows), generator=g)] for g in shufflers])
    for start in range(0, len(rows), size):
        yield order[:, start : start + size]


class _EarlyStopping:
    def __init__(self, members: int, patience: int):
        self.patience = patience
        self.epochs = [-1] * members
        self.metrics: list[dict[str, float]] = [{"rmse": float("inf")}] * members

    def update(self, epoch: int, current: list[dict[str, float]]) -> list[int]:
        """Record the members whose validation RMSE improved; returns their indices."""
        improved = [k for k, m in enumerate(current) if m["rmse"] < self.metrics[k]["rmse"]]
        for k in improved:
            self.epochs[k], self.metrics[k] = epoch, current[k]
        return improved

    def done(self, epoch: int) -> bool:
        return all(epoch - best >= self.patience for best in self.epochs)


def _copy_members(source: MultiBranchNet, target: MultiBranchNet, members: list[int]) -> None:
    with torch.no_grad():
        for theirs, mine in zip(source.layers(), target.layers()):
            mine.weight[members] = theirs.weight[members]
            mine.bias[members] = theirs.bias[members]
