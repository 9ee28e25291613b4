"""The photos the benchmarks send: scikit-image's astronaut, plus SCUT-FBP5500 faces when present;
and the corpus of distinct real images the timed comparisons cycle through (a folder's)."""
from __future__ import annotations

import io
import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from models.evaluation.datasets import DataMissing, data_root

# Real faces of another size than the astronaut's 512 x 512, and cheaper to detect: with 7 of
# them a round of 8, 16 or 32 requests sends every photo equally often.
SCUT_FACES = 7
# Distinct images per timed comparison: more than a round's calls at c=16 would need to repeat
# within a second, and few enough to read at start. Cycled; the gateway still sees new bytes.
CORPUS_SIZE = 64
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Photo:
    name: str
    jpeg: bytes


def astronaut(side: int = 512) -> Photo:
    """A real public-domain portrait (NASA's Eileen Collins) as JPEG, optionally downscaled."""
    from PIL import Image
    from skimage import data  # a dev dependency, as the benchmarks are

    image = Image.fromarray(data.astronaut())
    if side != image.width:
        image = image.resize((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return Photo(f"astronaut-{side}", buffer.getvalue())


def scut_faces(count: int = SCUT_FACES) -> list[Photo]:
    """The first ``count`` SCUT-FBP5500 images by name; none when the data is absent."""
    try:
        folder = data_root() / "scut-fbp5500" / "images"
    except DataMissing:
        return []
    paths = sorted(folder.glob("*.jpg"))[:count] if folder.is_dir() else []
    return [Photo(p.name, p.read_bytes()) for p in paths]


def default_photos() -> list[Photo]:
    return [astronaut(), *scut_faces()]


def image_folder() -> Path | None:
    """SCUT-FBP5500's images under ../shared/data (or $XCLOUD_DATA), None when absent."""
    try:
        folder = data_root() / "scut-fbp5500" / "images"
    except DataMissing:
        return None
    return folder if folder.is_dir() else None


def folder_photos(folder: Path, count: int = CORPUS_SIZE) -> list[Photo]:
    """``count`` images spread evenly over the folder's sorted names (a folder sorted by
    subject group would otherwise give one group)."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    step = max(1, len(paths) // max(1, count))
    return [Photo(p.name, p.read_bytes()) for p in paths[::step][:count]]


def default_corpus(folder: Path | None = None, count: int = CORPUS_SIZE) -> list[Photo]:
    """The folder's images, else the default one's, else the small photo mix."""
    folder = folder or image_folder()
    return (folder_photos(folder, count) if folder else []) or default_photos()


def with_comment(jpeg: bytes, number: int) -> bytes:
    """The same pixels with a JPEG comment (COM segment) carrying ``number``.

    Other bytes give the request its own sha256, so that the gateway's cache and single-flight
    cannot answer it from another request while every decoder still sees the same picture.
    """
    payload = b"xcloud-bench %d" % number
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


class ImageCycle:
    """Callable giving the photos' bytes in turn; ``unique`` makes every call's bytes new."""

    def __init__(self, photos: Sequence[Photo], unique: bool = False):
        self._photos = itertools.cycle([p.jpeg for p in photos])
        self._numbers = itertools.count()
        self._unique = unique

    def __call__(self) -> bytes:
        jpeg = next(self._photos)
        return with_comment(jpeg, next(self._numbers)) if self._unique else jpeg
