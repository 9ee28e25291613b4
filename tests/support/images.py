"""Hostile and unusual images, each with the gRPC status a service must answer with.

Shared by the detection service's and the gateway's bad-input suites, so both are held to
the same contract.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

OK, INVALID, EXHAUSTED = "OK", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"


@dataclass(frozen=True)
class ImageCase:
    name: str
    content: bytes
    code: str          # grpc.StatusCode name the service must answer with
    message: str = ""  # a fragment the error message must contain (lower case)
    size: tuple[int, int] | None = None  # (width, height) reported for accepted images


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(width: int = 96, height: int = 64, mode: str = "RGB") -> Image.Image:
    """A smooth gradient (decoders treat it like a photo; no faces in it)."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2).astype(np.uint8)
    return Image.fromarray(rgb).convert(mode)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * 3 * 16
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(row)) + png_chunk(b"IEND", b""))


def exif_rotated_jpeg() -> bytes:
    """96x64 pixels stored, EXIF orientation 6 (rotate 90° clockwise): upright it is 64x96."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(photo(96, 64), "JPEG", exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [photo(64, 48, "P"), photo(64, 48).transpose(Image.FLIP_LEFT_RIGHT).convert("P")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_png() -> bytes:
    values = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    return encode(Image.fromarray(values), "PNG")


def corrupt_png() -> bytes:
    good = encode(photo(), "PNG")
    start = good.index(b"IDAT") + 4
    return good[:start] + bytes(b ^ 0x5A for b in good[start:start + 64]) + good[start + 64:]


def bad_image_cases() -> list[ImageCase]:
    jpeg = encode(photo(), "JPEG")
    rng = np.random.default_rng(7)
    return [
        ImageCase("empty", b"", INVALID, "empty"),
        ImageCase("random_bytes", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(), INVALID,
                  "not recognised"),
        ImageCase("text", b"<svg xmlns='http://www.w3.org/2000/svg'/>", INVALID, "not recognised"),
        ImageCase("truncated_jpeg", jpeg[: len(jpeg) // 2], INVALID, "truncated"),
        ImageCase("corrupt_png", corrupt_png(), INVALID, "corrupt"),
        ImageCase("one_pixel", encode(photo(1, 1), "PNG"), INVALID, "at least"),
        ImageCase("sliver_1x4000", encode(photo(4000, 1), "PNG"), INVALID, "at least"),
        ImageCase("png_declaring_30000x30000", png_declaring(30000, 30000), EXHAUSTED, "downscale"),
        ImageCase("png_declaring_50000x10", png_declaring(50000, 16), EXHAUSTED, "per side"),
        ImageCase("ico_format", encode(photo(32, 32), "ICO"), INVALID, "not accepted"),
        ImageCase("cmyk_jpeg", encode(photo(mode="CMYK"), "JPEG"), OK, size=(96, 64)),
        ImageCase("sixteen_bit_png", sixteen_bit_png(), OK, size=(64, 48)),
        ImageCase("rgba_png", encode(photo(mode="RGBA"), "PNG"), OK, size=(96, 64)),
        ImageCase("greyscale_jpeg", encode(photo(mode="L"), "JPEG"), OK, size=(96, 64)),
        ImageCase("palette_png", encode(photo(mode="P"), "PNG"), OK, size=(96, 64)),
        ImageCase("exif_rotated_jpeg", exif_rotated_jpeg(), OK, size=(64, 96)),
        ImageCase("animated_gif", animated_gif(), OK, size=(64, 48)),
        ImageCase("webp", encode(photo(), "WEBP"), OK, size=(96, 64)),
    ]
