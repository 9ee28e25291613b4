"""Decode and validate untrusted image bytes into 8-bit RGB arrays.

The limits are checked on the header before any pixel is decoded, so a small file that
declares a huge canvas (a decompression bomb) costs nothing. Every failure is an
XCloudError whose message tells the caller what to change.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from services.runtime.errors import InvalidInput, TooLarge

# We enforce our own pixel limit before decoding; Pillow's warning would only duplicate it.
Image.MAX_IMAGE_PIXELS = None
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
MIN_SIDE = 12  # the smallest window any of our detectors looks at


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_side: int = 20_000


def decode_image(data: bytes, limits: ImageLimits = ImageLimits()) -> np.ndarray:
    """Return an HxWx3 uint8 RGB array, upright per EXIF, from encoded bytes."""
    _check_size(data, limits)
    image = _open(data)
    _check_dimensions(image, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"image data is truncated or corrupt ({exc}); "
                           "send a complete file") from exc
    return to_rgb(image)


def image_size(data: bytes, limits: ImageLimits = ImageLimits()) -> tuple[int, int]:
    """(width, height) as stored (before EXIF rotation) from the header alone, with the same
    checks as ``decode_image``: what a memory budget needs before any pixel is decoded."""
    _check_size(data, limits)
    image = _open(data)
    _check_dimensions(image, limits)
    return image.size


def _check_size(data: bytes, limits: ImageLimits) -> None:
    if not data:
        raise InvalidInput("image is empty: send the encoded bytes of a JPEG, PNG or WebP file")
    if len(data) > limits.max_bytes:
        raise TooLarge(
            f"image is {len(data)} bytes; the limit is {limits.max_bytes} bytes: "
            "downscale or recompress it"
        )


def _open(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise InvalidInput(
            "image format not recognised; send JPEG, PNG, WebP, BMP, TIFF or GIF bytes"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"image header is corrupt ({exc})") from exc
    if image.format not in ACCEPTED_FORMATS:
        raise InvalidInput(
            f"image format {image.format} is not accepted; send JPEG, PNG, WebP, BMP, TIFF or GIF"
        )
    return image


def _check_dimensions(image: Image.Image, limits: ImageLimits) -> None:
    width, height = image.size
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise TooLarge(
            f"image is {width}x{height} pixels; the limit is {limits.max_pixels} pixels and "
            f"{limits.max_side} per side: downscale it"
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidInput(
            f"image is {width}x{height} pixels; both sides must be at least {MIN_SIDE}"
        )


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to 8-bit RGB: 16-bit is rescaled, alpha is composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _high_depth_to_rgb(np.asarray(image), 65535.0)
    if image.mode == "F":
        return _high_depth_to_rgb(np.asarray(image), 1.0)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _high_depth_to_rgb(values: np.ndarray, full_scale: float) -> np.ndarray:
    grey = np.clip(values.astype(np.float32) * (255.0 / full_scale), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def rgb_from_raw(width: int, height: int, data: bytes,
                 limits: ImageLimits = ImageLimits()) -> np.ndarray:
    """Validate already-decoded RGB bytes (what the gateway sends per face) and view them."""
    if width <= 0 or height <= 0:
        raise InvalidInput(f"raw image has invalid size {width}x{height}")
    if width * height > limits.max_pixels:
        raise TooLarge(f"raw image is {width}x{height}; the limit is {limits.max_pixels} pixels")
    if len(data) != width * height * 3:
        raise InvalidInput(
            f"raw image declares {width}x{height} RGB ({width * height * 3} bytes) "
            f"but carries {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
