"""face-api weights: the pinned npm release, its JSON manifests and their uint8-quantised shards.

A manifest lists weight groups; each group names its shard files (concatenated in order) and its
tensors in shard order: name, shape, dtype and, for quantised tensors, ``quantization: {dtype,
scale, min}`` meaning value = q * scale + min. TensorFlow.js computes that in float64 and stores
float32 (``io_utils.decodeWeight``); we do the same so the weights are bit-identical to the
reference runtime's. Tensors keep TensorFlow's layouts: conv filters HWIO, depthwise filters
HWC1, dense weights (in, out); ``conv_filter`` etc. turn them into PyTorch's.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from models.packages import ChecksumError, PinnedPackage, fetch_file

FACE_API = PinnedPackage(
    registry="npm",
    name="@vladmandic/face-api",
    version="1.7.15",
    sha256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    files={
        "model/age_gender_model-weights_manifest.json":
            "74b60bf3ebf981bf4e661e9cca3a185614e10b25d797118b62e2a68d3ff2569f",
        "model/age_gender_model.bin":
            "49f92bbc0afef2342c4385e4a2b0acb6d7a727c6f0aa539499719a81acf9abaa",
        "model/face_expression_model-weights_manifest.json":
            "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8",
        "model/face_expression_model.bin":
            "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d",
        "model/face_recognition_model-weights_manifest.json":
            "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b",
        "model/face_recognition_model.bin":
            "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589",
    },
    license="MIT",
)

QUANTISED = {"uint8": np.uint8, "uint16": np.uint16}
PLAIN = {"float32": np.float32, "int32": np.int32}


def members(model: str) -> list[str]:
    """The package members holding ``model`` (e.g. "age_gender_model"): manifest, then shard."""
    return [f"model/{model}-weights_manifest.json", f"model/{model}.bin"]


def load_weights(model: str) -> dict[str, np.ndarray]:
    """Every tensor of one face-api model, fetched from the pinned package and dequantised."""
    manifest = fetch_file(FACE_API, members(model)[0])
    return read_manifest(manifest, _pinned_shard)


def _pinned_shard(name: str) -> Path:
    member = f"model/{name}"
    if member not in FACE_API.files:  # an unpinned shard would load unchecked bytes
        raise ChecksumError(f"{FACE_API.spec}: shard {member} has no pinned sha256")
    return fetch_file(FACE_API, member)


def read_manifest(
    manifest: Path, shard_path: Callable[[str], Path] | None = None
) -> dict[str, np.ndarray]:
    """Decode a ``*-weights_manifest.json``; shards are looked up beside it unless told where."""
    shard_path = shard_path or (lambda name: manifest.parent / name)
    tensors: dict[str, np.ndarray] = {}
    for group in json.loads(manifest.read_text()):
        buffer = b"".join(shard_path(name).read_bytes() for name in group["paths"])
        offset = 0
        for spec in group["weights"]:
            tensor, offset = _decode(spec, buffer, offset)
            tensors[spec["name"]] = tensor
        if offset != len(buffer):
            raise ValueError(f"{manifest}: {len(buffer) - offset} bytes left after the last tensor")
    return tensors


def _decode(spec: dict, buffer: bytes, offset: int) -> tuple[np.ndarray, int]:
    shape = tuple(spec["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    quantization = spec.get("quantization")
    if quantization is None:
        dtype = _dtype(PLAIN, spec["dtype"], spec["name"])
    elif spec["dtype"] != "float32":  # tfjs rounds quantised integers; no face-api net has any
        raise ValueError(f"tensor {spec['name']}: quantised {spec['dtype']} is not supported")
    else:
        dtype = _dtype(QUANTISED, quantization["dtype"], spec["name"])
    end = offset + count * np.dtype(dtype).itemsize
    if end > len(buffer):
        raise ValueError(f"tensor {spec['name']} runs past the end of its shard")
    values = np.frombuffer(buffer, dtype, count, offset)
    if quantization is not None:
        values = values.astype(np.float64) * quantization["scale"] + quantization["min"]
    return values.astype(spec["dtype"]).reshape(shape), end


def _dtype(table: dict[str, type], name: str, tensor: str) -> type:
    if name not in table:
        raise ValueError(f"tensor {tensor}: dtype {name} is not supported (only {sorted(table)})")
    return table[name]


def conv_filter(hwio: np.ndarray) -> torch.Tensor:
    """TensorFlow conv filter (H, W, in, out) -> PyTorch (out, in, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(hwio.transpose(3, 2, 0, 1)))


def depthwise_filter(hwc1: np.ndarray) -> torch.Tensor:
    """TensorFlow depthwise filter (H, W, C, 1) -> PyTorch grouped conv (C, 1, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(hwc1.transpose(2, 3, 0, 1)))


def dense_weight(in_out: np.ndarray) -> torch.Tensor:
    """TensorFlow dense weights (in, out) -> PyTorch Linear (out, in)."""
    return torch.from_numpy(np.ascontiguousarray(in_out.T))
