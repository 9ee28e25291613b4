"""The trainable head over frozen pooled features, and its training loop.

Recipe (each part can be switched off to measure what it brings, see ``train --ablation``):
- features standardised by the training set's mean/std (a frozen affine inside the head, so
  the exported graph needs no separate step);
- class re-balancing: a weighted softmax (weight of a class = mean count / its count) or
  over-sampling of rare classes, for sets whose classes are not the same size;
- mixup between feature vectors (Zhang et al. 2018), a cheap regulariser for small sets;
- dropout before the linear layer; AdamW with a cosine schedule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

Balance = Literal["weighted", "oversample", "none"]


@dataclass(frozen=True)
class HeadConfig:
    epochs: int = 30
    batch_size: int = 512
    lr: float = 3e-3
    weight_decay: float = 5e-2
    dropout: float = 0.3
    mixup_alpha: float = 0.2  # 0 turns mixup off
    balance: Balance = "weighted"
    seed: int = 0


class Head(nn.Module):
    """Standardise -> dropout -> linear: logits over the classes."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, n_classes: int, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(len(mean), n_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout((features - self.mean) / self.std))


def fit(features: np.ndarray, labels: np.ndarray, n_classes: int, config: HeadConfig) -> Head:
    """Train a head on (n, views, dim) features; every view of an image is one sample."""
    # A linear head gains nothing from intra-op threads, and on a busy machine OpenMP's
    # spinning workers make each step several times slower: train on one thread.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit(features, labels, n_classes, config)
    finally:
        torch.set_num_threads(threads)


def _fit(features: np.ndarray, labels: np.ndarray, n_classes: int, config: HeadConfig) -> Head:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    x = torch.from_numpy(features.reshape(-1, features.shape[-1]))
    y = torch.from_numpy(np.repeat(labels, features.shape[1])).long()
    head = Head(x.mean(0).numpy(), x.std(0).numpy() + 1e-6, n_classes, config.dropout)
    counts = np.bincount(y.numpy(), minlength=n_classes).astype(np.float64)
    weights = _class_weights(counts) if config.balance == "weighted" else None
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    optimiser = torch.optim.AdamW(head.parameters(), config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * -(-len(x) // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    head.train()
    for _ in range(config.epochs):
        for batch in _batches(y.numpy(), counts, config, rng):
            xb, yb = x[batch], y[batch]
            lam, partner = _mixup(len(batch), config.mixup_alpha, rng)
            logits = head(lam * xb + (1 - lam) * xb[partner])
            loss = lam * loss_fn(logits, yb) + (1 - lam) * loss_fn(logits, yb[partner])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return head.eval()


def _class_weights(counts: np.ndarray) -> torch.Tensor:
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts[present].mean() / counts[present]
    return torch.as_tensor(weights, dtype=torch.float32)


def _batches(y: np.ndarray, counts: np.ndarray, config: HeadConfig, rng: np.random.Generator):
    """Index batches of one epoch; over-sampling draws every class equally often."""
    if config.balance == "oversample":
        p = 1.0 / counts[y]
        order = rng.choice(len(y), size=len(y), replace=True, p=p / p.sum())
    else:
        order = rng.permutation(len(y))
    for start in range(0, len(order), config.batch_size):
        yield torch.from_numpy(order[start:start + config.batch_size])


def _mixup(n: int, alpha: float, rng: np.random.Generator) -> tuple[float, torch.Tensor]:
    if alpha <= 0:
        return 1.0, torch.arange(n)
    return float(rng.beta(alpha, alpha)), torch.from_numpy(rng.permutation(n))


def predict(head: Head, features: np.ndarray) -> np.ndarray:
    """Class probabilities for (n, views, dim) features, averaged over the views."""
    n, views, dim = features.shape
    with torch.no_grad():
        logits = head(torch.from_numpy(features.reshape(-1, dim)))
        probabilities = torch.softmax(logits, dim=1).numpy()
    return probabilities.reshape(n, views, -1).mean(axis=1)
