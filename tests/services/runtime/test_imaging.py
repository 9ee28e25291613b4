"""Image decoding and validation, straight on the runtime functions."""
from __future__ import annotations

import numpy as np
import pytest

from services.runtime.errors import InvalidInput, TooLarge
from services.runtime.imaging import ImageLimits, decode_image, rgb_from_raw
from tests.support.images import EXHAUSTED, INVALID, bad_image_cases, encode, photo

CASES = bad_image_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_case_decodes_or_fails_with_its_error(case):
    if case.code == "OK":
        rgb = decode_image(case.content)
        assert rgb.dtype == np.uint8 and rgb.shape == (case.size[1], case.size[0], 3)
        return
    expected = {INVALID: InvalidInput, EXHAUSTED: TooLarge}[case.code]
    with pytest.raises(expected) as raised:
        decode_image(case.content)
    assert case.message in raised.value.message.lower()


def test_byte_limit_is_enforced_before_decoding():
    with pytest.raises(TooLarge, match="bytes"):
        decode_image(encode(photo(), "PNG"), ImageLimits(max_bytes=100))


def test_transparent_pixels_become_white():
    rgba = photo(mode="RGBA")
    rgba.putalpha(0)
    assert decode_image(encode(rgba, "PNG")).min() == 255


def test_sixteen_bit_is_rescaled_not_clipped():
    from tests.support.images import sixteen_bit_png

    rgb = decode_image(sixteen_bit_png())
    assert rgb.max() == 255 and rgb.min() == 0 and len(np.unique(rgb)) > 100


def test_raw_rgb_must_match_its_declared_size():
    assert rgb_from_raw(2, 2, bytes(12)).shape == (2, 2, 3)
    with pytest.raises(InvalidInput, match="carries 11 bytes"):
        rgb_from_raw(2, 2, bytes(11))
    with pytest.raises(InvalidInput):
        rgb_from_raw(0, 2, b"")
