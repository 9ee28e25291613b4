"""Image decoding of hostile bytes: a valid RGB array or a caller error, nothing else."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from services.runtime.errors import XCloudError
from services.runtime.imaging import ImageLimits, decode_image, image_size
from tests.fuzz.conftest import fuzz_settings

pytestmark = pytest.mark.fuzz
LIMITS = ImageLimits(max_bytes=1 << 20, max_pixels=4_000_000, max_side=4000)
FORMATS = ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]


def encoded(fmt: str, width: int, height: int, mode: str) -> bytes:
    pixels = np.random.default_rng(width * 31 + height).integers(0, 256, (height, width, 4),
                                                                 dtype=np.uint8)
    image = Image.fromarray(pixels, "RGBA").convert(mode)
    out = io.BytesIO()
    try:
        image.save(out, fmt)
    except (OSError, ValueError, KeyError):  # a mode the format cannot hold: plain RGB then
        out = io.BytesIO()
        image.convert("RGB").save(out, fmt)
    return out.getvalue()


@st.composite
def mutated_images(draw) -> bytes:
    """A real encoded image, then truncated, bit-flipped, spliced or left alone."""
    data = bytearray(encoded(draw(st.sampled_from(FORMATS)), draw(st.integers(1, 64)),
                             draw(st.integers(1, 64)),
                             draw(st.sampled_from(["RGB", "RGBA", "L", "P", "LA", "I;16"]))))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "truncate", "insert", "header"]))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "truncate":
            del data[max(1, at):]
        elif action == "insert":
            data[at:at] = draw(st.binary(max_size=64))
        else:  # the width/height bytes of most headers sit in the first 32
            data[min(at, 31) % len(data)] = draw(st.integers(0, 255))
    return bytes(data)


def check(data: bytes) -> None:
    try:
        rgb = decode_image(data, LIMITS)
    except XCloudError as error:
        assert error.message and error.code.name in ("INVALID_ARGUMENT", "RESOURCE_EXHAUSTED")
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert rgb.shape[0] * rgb.shape[1] <= LIMITS.max_pixels
    assert sorted(image_size(data, LIMITS)) == sorted(rgb.shape[1::-1])


@fuzz_settings(share=1.5)
@given(mutated_images())
def test_mutated_images_decode_or_get_a_caller_error(data):
    check(data)


@fuzz_settings(share=0.5)
@given(st.binary(max_size=4096))
def test_random_bytes_decode_or_get_a_caller_error(data):
    check(data)
