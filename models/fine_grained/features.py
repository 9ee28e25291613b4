"""Frozen MobileNetV2 features of labelled images, with augmented views, cached on disk.

Training a head on frozen features is the recipe that fits 2 CPU cores: the backbone runs once
per (image, view) — through onnxruntime, several times faster than torch here — and the result
is cached under ``models/.cache/fine_grained/``, keyed by the backbone's weights, the pooled
layers, the views and every image's path, size and modification time, so a re-run (another
head, another seed) costs seconds.
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
from services.fine_grained.preprocess import CENTRE, View, crop_window, normalise
from services.runtime.imaging import ImageLimits, decode_image

# Blocks whose pooled outputs feed the head (a feature pyramid): 96-d at stride 16, 160-d and
# 320-d at stride 32, and the final 1280-d map. Mid-level blocks keep texture and shape cues
# (petal veins, leaf spots) that the last, most ImageNet-specific layer partly discards.
PYRAMID_LAYERS: tuple[int, ...] = (13, 16, 17, 18)
# Training-time augmentation: the centre crop and its mirror, zoomed-in crops (centre and
# corners) and the whole shorter side, so the head sees the object at several scales.
TRAIN_VIEWS: tuple[View, ...] = (
    CENTRE, View(flip=True), View(0.6), View(0.6, flip=True),
    View(0.7, (-1, -1)), View(0.7, (1, -1)), View(0.7, (-1, 1)), View(0.7, (1, 1)),
    View(1.0), View(0.75, (0.5, 0.0), True),
)
EVAL_VIEWS: tuple[View, ...] = (CENTRE,)  # what the service sees
CACHE = CACHE_DIR / "fine_grained"
DECODE_LIMITS = ImageLimits(max_bytes=200 * 1024 * 1024, max_pixels=200_000_000, max_side=50_000)


class PyramidFeatures(nn.Module):
    """Global-average-pooled outputs of ``layers`` of the backbone, concatenated."""

    def __init__(self, backbone: MobileNetV2, layers: Sequence[int] = PYRAMID_LAYERS):
        super().__init__()
        self.features = backbone.features[: max(layers) + 1]
        self.layers = tuple(layers)

    @property
    def dim(self) -> int:
        return sum(_out_channels(self.features[i]) for i in self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = []
        for i, block in enumerate(self.features):
            x = block(x)
            if i in self.layers:
                pooled.append(x.mean(dim=(2, 3)))
        return torch.cat(pooled, dim=1)


def _out_channels(block: nn.Module) -> int:
    return [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features


def extract(
    images: Sequence[Path], views: Sequence[View], layers: Sequence[int] = PYRAMID_LAYERS,
    cache: Path | None = None, progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(len(images), len(views), dim) float32 pooled features, from the cache when present."""
    path = Path(cache or CACHE) / f"{_cache_key(images, views, layers)}.npy"
    if path.is_file():
        return np.load(path)
    extractor = PyramidFeatures(load_backbone(), layers).eval()
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "features.onnx"
        mobilenet_export.export(extractor, onnx_path, "features")
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        out = np.empty((len(images), len(views), extractor.dim), np.float32)
        for n, image in enumerate(images):
            rgb = decode_image(Path(image).read_bytes(), DECODE_LIMITS)
            batch = normalise(np.stack([crop_window(rgb, v) for v in views]))
            out[n] = session.run(None, {"input": batch})[0]
            if progress:
                progress(n + 1, len(images))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path.with_suffix(".part.npy"), out)
    path.with_suffix(".part.npy").replace(path)  # a killed run never leaves a truncated cache
    return out


def _cache_key(images: Sequence[Path], views: Sequence[View], layers: Sequence[int]) -> str:
    digest = hashlib.sha256()
    digest.update(MOBILENET_WEIGHTS.files[WEIGHTS_MEMBER].encode())
    digest.update(repr((tuple(layers), tuple(views))).encode())
    for image in images:
        stat = Path(image).stat()
        digest.update(f"{Path(image).resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]
