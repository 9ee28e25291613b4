"""Frozen MobileNetV2 features of animal crops, cached on disk (models/.cache/animal/).

The head trains on features the backbone computes once per (image, window): the backbone runs
through onnxruntime (several times faster than torch here) and the result is cached, keyed by
the backbone's weights, the feature layout, the windows and every image's path, size and mtime.

Feature layout (``FEATURE_GROUPS``): global-average-pooled outputs of blocks 13, 16, 17 and 18
(96, 160, 320, 1280 channels) and 2x2 grids of blocks 17 and 18 (overlapping quadrants of the
7x7 map). Mid-level blocks keep texture (coat patches, hair whorls) that the last,
ImageNet-specific block partly discards; the grids keep where a patch is, which a global
average loses. Training picks a subset of groups (documented in the head's record).
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from models.mobilenet import export as mobilenet_export
from models.mobilenet.net import MobileNetV2
from models.mobilenet.weights import MOBILENET_WEIGHTS, WEIGHTS_MEMBER, load_backbone
from models.packages import CACHE_DIR
from services.animal_identity.animal_preprocess import WHOLE, Window, window_pixels
from services.fine_grained.preprocess import normalise
from services.runtime.imaging import ImageLimits, decode_image

POOLED_LAYERS = (13, 16, 17, 18)
GRID_LAYERS = (17, 18)
CHANNELS = {13: 96, 16: 160, 17: 320, 18: 1280}
# name -> (start, stop) columns of the cached feature row
FEATURE_GROUPS: dict[str, tuple[int, int]] = {}
_at = 0
for _layer in POOLED_LAYERS:
    FEATURE_GROUPS[f"gap{_layer}"] = (_at, _at + CHANNELS[_layer])
    _at += CHANNELS[_layer]
for _layer in GRID_LAYERS:
    FEATURE_GROUPS[f"grid{_layer}"] = (_at, _at + 4 * CHANNELS[_layer])
    _at += 4 * CHANNELS[_layer]
FEATURE_DIM = _at
# Training-time windows: the whole crop and four shifted / zoomed sub-windows (no mirror: an
# animal's marks mirrored are another animal's marks).
TRAIN_WINDOWS: tuple[Window, ...] = (
    WHOLE, Window(0.0, 0.0, 0.9, 0.9), Window(0.1, 0.1, 1.0, 1.0),
    Window(0.1, 0.0, 1.0, 0.9), Window(0.05, 0.05, 0.95, 0.95),
)
EVAL_WINDOWS: tuple[Window, ...] = (WHOLE,)
CACHE = CACHE_DIR / "animal"
DECODE_LIMITS = ImageLimits(max_bytes=200 * 1024 * 1024, max_pixels=200_000_000, max_side=50_000)


def _quadrants(x: torch.Tensor) -> list[torch.Tensor]:
    """Means of the four overlapping quadrants of a (n, c, h, w) map (7x7: rows 0-3, 3-6)."""
    h, w = x.shape[2], x.shape[3]
    hh, hw = (h + 1) // 2, (w + 1) // 2
    return [x[:, :, r:r + hh, c:c + hw].mean(dim=(2, 3)) for r in (0, h - hh) for c in (0, w - hw)]


class AnimalFeatures(nn.Module):
    """(batch, FEATURE_DIM): the pooled groups above, in FEATURE_GROUPS order."""

    def __init__(self, backbone: MobileNetV2):
        super().__init__()
        self.features = backbone.features[: max(POOLED_LAYERS) + 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled, grids = [], []
        for i, block in enumerate(self.features):
            x = block(x)
            if i in POOLED_LAYERS:
                pooled.append(x.mean(dim=(2, 3)))
            if i in GRID_LAYERS:
                grids += _quadrants(x)
        # each grid layer's four quadrants are contiguous, in GRID_LAYERS order
        return torch.cat(pooled + grids, dim=1)


def columns(groups: Sequence[str]) -> np.ndarray:
    """Indices of the feature columns of ``groups``."""
    return np.concatenate([np.arange(*FEATURE_GROUPS[g]) for g in groups])


def extract(images: Sequence[Path], windows: Sequence[Window], cache: Path | None = None,
            progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(images), len(windows), FEATURE_DIM) float16 features, from the cache when present."""
    path = Path(cache or CACHE) / f"{_cache_key(images, windows)}.npy"
    if path.is_file():
        return np.load(path)
    extractor = AnimalFeatures(load_backbone()).eval()
    out = np.empty((len(images), len(windows), FEATURE_DIM), np.float16)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "features.onnx"
        mobilenet_export.export(extractor, onnx_path, "features")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        for n, image in enumerate(images):
            rgb = decode_image(Path(image).read_bytes(), DECODE_LIMITS)
            batch = normalise(np.stack([window_pixels(rgb, w) for w in windows]))
            out[n] = session.run(None, {"input": batch})[0]
            if progress and (n + 1) % 200 == 0:
                progress(n + 1, len(images))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path.with_suffix(".part.npy"), out)
    path.with_suffix(".part.npy").replace(path)  # a killed run never leaves a truncated cache
    return out


def _cache_key(images: Sequence[Path], windows: Sequence[Window]) -> str:
    digest = hashlib.sha256()
    digest.update(MOBILENET_WEIGHTS.files[WEIGHTS_MEMBER].encode())
    digest.update(repr((POOLED_LAYERS, GRID_LAYERS, tuple(windows))).encode())
    for image in images:
        stat = Path(image).stat()
        digest.update(f"{Path(image).resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]
