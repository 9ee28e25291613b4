"""The export check every builder runs: the ONNX graph under onnxruntime against the torch
module it was exported from, on the same inputs."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn


def max_abs_diff(module: nn.Module, path: Path, batches: Iterable[np.ndarray],
                 tolerance: float | Mapping[str, float], outputs: Sequence[str] | None = None
                 ) -> float:
    """Largest |onnxruntime - torch| over every output of every batch (fed as ``input``);
    raises RuntimeError on a shape mismatch or a difference above ``tolerance`` (one bound,
    or one per output name: outputs in other units drift by other amounts)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = list(outputs) if outputs else [o.name for o in session.get_outputs()]
    worst = dict.fromkeys(names, 0.0)
    for x in batches:
        with torch.no_grad():
            expected = module(torch.from_numpy(x))
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        for name, want, have in zip(names, expected, session.run(names, {"input": x})):
            if tuple(want.shape) != have.shape:
                raise RuntimeError(f"{path}: {name}: onnxruntime shape {have.shape} != torch "
                                   f"{tuple(want.shape)}")
            worst[name] = max(worst[name], float(np.abs(want.numpy() - have).max()))
    for name, diff in worst.items():
        bound = tolerance if isinstance(tolerance, (int, float)) else tolerance[name]
        if diff > bound:
            raise RuntimeError(f"{path}: {name}: onnxruntime differs from torch by {diff:.3g}")
    return max(worst.values(), default=0.0)


def pixel_batches(side: int, sizes: Sequence[int] = (1, 3), seed: int = 0) -> list[np.ndarray]:
    """Random RGB 0..255 NCHW batches of the given sizes (what the face models take)."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.0, 255.0, (n, 3, side, side)).astype(np.float32) for n in sizes]
