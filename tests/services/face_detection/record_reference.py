"""Record facenet-pytorch 2.6.0's MTCNN results on real photos -> reference_mtcnn.json.

The reference runtime needs torchvision, which cannot share a venv with the project's torch,
so it runs in its own venv (git-ignored, under .cache/):

    python3.11 -m venv .cache/ref-venv
    .cache/ref-venv/bin/pip install torch==2.14.1 torchvision==0.29.1
    .cache/ref-venv/bin/pip install --no-deps facenet-pytorch==2.6.0
    .cache/ref-venv/bin/pip install requests tqdm  # imported by facenet_pytorch/__init__, unused
    .cache/ref-venv/bin/pip install pillow==13.0.0 numpy==2.4.6 scikit-image==0.26.0 \
        opencv-python-headless==5.0.0.93
    XCLOUD_DATA=../shared/data .cache/ref-venv/bin/python \
        tests/services/face_detection/record_reference.py

Keep Pillow (the JPEG decoder) at the project venv's version: the JSON stores a sha256 of each
decoded image and the parity test refuses to compare different pixels. Only numbers are written;
the photos stay in the shared data folder. This module is also imported by the parity test for
IMAGE_IDS and load_image, so it must not import torch or facenet at module level.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
OUTPUT = HERE / "reference_mtcnn.json"
PARAMS = {"min_face_size": 20, "thresholds": [0.6, 0.7, 0.7], "factor": 0.709}

SCUT = [f"{p}{n}.jpg" for p, ns in (
    ("AF", (1, 123, 517, 1024, 1999)), ("AM", (2, 250, 777, 1500, 1998)),
    ("CF", (1, 100, 333, 600, 750)), ("CM", (3, 150, 400, 555, 749)),
) for n in ns]
UTKFACE = [
    "100_1_0_20170110183726390.jpg.chip.jpg", "17_1_0_20170109213933756.jpg.chip.jpg",
    "1_1_0_20170109191822349.jpg.chip.jpg", "24_1_4_20170103233810029.jpg.chip.jpg",
    "2_0_4_20161221202954025.jpg.chip.jpg", "37_0_0_20170105172903283.jpg.chip.jpg",
    "46_0_0_20170104203859666.jpg.chip.jpg", "53_1_0_20170110160643219.jpg.chip.jpg",
    "62_1_0_20170109142055018.jpg.chip.jpg", "79_1_0_20170110141543912.jpg.chip.jpg",
]
FLOWERS = [f"image_{1 + 80 * k + 7 * k:04d}.jpg" for k in range(10)]  # one per class, varied
GRID2 = ["AF10.jpg", "AM20.jpg", "CF30.jpg", "CM40.jpg"]  # 2x2 of 256 px faces: 512x512
GRID4 = [f"{p}{n}.jpg" for p in ("AF", "AM", "CF", "CM") for n in (55, 66, 77, 88)]  # 4x4 of 128

IMAGE_IDS = (
    ["skimage:astronaut", "skimage:astronaut_x2", "skimage:chelsea", "skimage:coffee"]
    + [f"scut:{n}" for n in SCUT] + [f"utkface:{n}" for n in UTKFACE]
    + [f"flowers17:{n}" for n in FLOWERS]
    + ["grid2:" + ",".join(GRID2), "grid4:" + ",".join(GRID4)]
)
FOLDERS = {"scut": "scut-fbp5500/images", "utkface": "utkface/images",
           "flowers17": "flowers17/images"}


def data_root() -> Path:
    return Path(os.environ.get("XCLOUD_DATA", REPO_ROOT.parent / "shared" / "data"))


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _grid(names: list[str], side: int, step: int, root: Path) -> np.ndarray:
    # Plain decimation (every step-th pixel) instead of a resize keeps both venvs bit-identical.
    faces = [_read(root / FOLDERS["scut"] / n)[::step, ::step] for n in names]
    rows = [np.concatenate(faces[r * side:(r + 1) * side], axis=1) for r in range(side)]
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def load_image(image_id: str, root: Path | None = None) -> np.ndarray:
    """The HxWx3 uint8 RGB image an id names (see IMAGE_IDS)."""
    root = root or data_root()
    source, name = image_id.split(":", 1)
    if source == "skimage":
        from skimage import data

        image = getattr(data, name.removesuffix("_x2"))()
        return np.repeat(np.repeat(image, 2, 0), 2, 1) if name.endswith("_x2") else image
    if source == "grid2":
        return _grid(name.split(","), 2, 1, root)
    if source == "grid4":
        return _grid(name.split(","), 4, 2, root)
    return _read(root / FOLDERS[source] / name)


def pixels_sha256(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest()


def _faces(mtcnn, image: np.ndarray) -> list[dict]:
    boxes, probs, points = mtcnn.detect(image, landmarks=True)
    if boxes is None:
        return []
    return [
        {"box": [float(v) for v in b], "prob": float(p), "landmarks": np.asarray(pt).tolist()}
        for b, p, pt in zip(boxes, probs, points)
    ]


def main() -> int:
    import facenet_pytorch
    import PIL
    import torch
    from facenet_pytorch import MTCNN

    torch.set_num_threads(1)  # deterministic float accumulation order
    mtcnn = MTCNN(keep_all=True, min_face_size=PARAMS["min_face_size"],
                  thresholds=PARAMS["thresholds"], factor=PARAMS["factor"], device="cpu")
    images = []
    for image_id in IMAGE_IDS:
        image = load_image(image_id)
        faces = _faces(mtcnn, image)
        images.append({"id": image_id, "shape": list(image.shape),
                       "pixels_sha256": pixels_sha256(image), "faces": faces})
        print(f"{image_id:<60} {len(faces)} face(s)", file=sys.stderr)
    reference = {
        "reference": {"facenet_pytorch": facenet_pytorch.__version__ if hasattr(
            facenet_pytorch, "__version__") else "2.6.0", "torch": torch.__version__,
            "pillow": PIL.__version__, "numpy": np.__version__},
        "params": PARAMS,
        "landmark_order": "as facenet-pytorch returns them, image view: image-left eye, "
                          "image-right eye, nose, image-left mouth corner, "
                          "image-right mouth corner",
        "images": images,
    }
    OUTPUT.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
