"""The animal embedding head over frozen backbone features, and its metric-learning loop.

Head: the chosen feature groups, standardised by the training set's mean/std (a frozen affine,
so the exported graph needs no separate step), a linear projection to ``dim`` and an L2
normalisation: Euclidean distance between two embeddings is then sqrt(2 - 2 cos).

Loss: ArcFace's additive angular margin (Deng et al., CVPR 2019) over the training
individuals: cos(theta_y + m) for the true animal, scaled by s. It pulls one animal's views
together and pushes different animals apart by at least the margin on the unit sphere, which
is what a gallery with a distance threshold needs; the class weights are thrown away.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from xcloud import names

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
NAME = names.ANIMAL_REID


class EmbeddingHead(nn.Module):
    def __init__(self, mean: np.ndarray, std: np.ndarray, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.linear = nn.Linear(len(mean), dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.linear((x - self.mean) / self.std), dim=1)


@dataclass(frozen=True)
class TrainConfig:
    dim: int = 256
    epochs: int = 30
    batch: int = 256
    lr: float = 2e-3
    weight_decay: float = 5e-4
    margin: float = 0.3  # ArcFace m, radians
    scale: float = 30.0  # ArcFace s
    dropout: float = 0.2  # on the standardised features, training only
    seed: int = 0


def arcface_logits(embeddings: torch.Tensor, weights: torch.Tensor, labels: torch.Tensor,
                   margin: float, scale: float) -> torch.Tensor:
    cosine = embeddings @ nn.functional.normalize(weights, dim=1).T
    theta = torch.acos(cosine.clamp(-1 + 1e-6, 1 - 1e-6))
    target = torch.cos(theta + margin)
    onehot = nn.functional.one_hot(labels, cosine.shape[1]).bool()
    return scale * torch.where(onehot, target, cosine)


def train_head(features: np.ndarray, labels: np.ndarray, config: TrainConfig = TrainConfig(),
               log=None) -> EmbeddingHead:
    """Fit the head on (n, d) float features with integer labels 0..k-1."""
    torch.manual_seed(config.seed)
    x = torch.from_numpy(features.astype(np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    mean, std = x.mean(0).numpy(), x.std(0).numpy() + 1e-3
    head = EmbeddingHead(mean, std, config.dim)
    weights = nn.Parameter(torch.randn(int(y.max()) + 1, config.dim) * 0.01)
    optimiser = torch.optim.AdamW([*head.parameters(), weights], lr=config.lr,
                                  weight_decay=config.weight_decay)
    steps = config.epochs * ((len(x) + config.batch - 1) // config.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=steps)
    drop = nn.Dropout(config.dropout)
    for epoch in range(config.epochs):
        order, total = torch.randperm(len(x)), 0.0
        for start in range(0, len(x), config.batch):
            batch = order[start:start + config.batch]
            standard = drop((x[batch] - head.mean) / head.std)
            embedded = nn.functional.normalize(head.linear(standard), dim=1)
            loss = nn.functional.cross_entropy(
                arcface_logits(embedded, weights, y[batch], config.margin, config.scale), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        if log and (epoch + 1) % 10 == 0:
            log(f"epoch {epoch + 1}: loss {total / len(x):.3f}")
    return head.eval()


def embed(head: EmbeddingHead, features: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return head(torch.from_numpy(features.astype(np.float32))).numpy()


def save(head: EmbeddingHead, groups, record: dict) -> Path:
    stem = WEIGHTS_DIR / NAME
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.savez(stem.with_suffix(".npz"), mean=head.mean.numpy(), std=head.std.numpy(),
             weight=head.linear.weight.detach().numpy())
    stem.with_suffix(".json").write_text(json.dumps({**record, "groups": list(groups)},
                                                    indent=2, sort_keys=True) + "\n")
    return stem


def load(stem: Path = WEIGHTS_DIR / NAME) -> tuple[EmbeddingHead, tuple[str, ...], dict]:
    with np.load(stem.with_suffix(".npz"), allow_pickle=False) as arrays:
        head = EmbeddingHead(arrays["mean"], arrays["std"], arrays["weight"].shape[0])
        head.linear.weight.data = torch.from_numpy(arrays["weight"])
    record = json.loads(stem.with_suffix(".json").read_text())
    return head.eval(), tuple(record["groups"]), record
