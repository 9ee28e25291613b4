"""The aligned face crop every per-face service takes (the gateway's shared crop, a RawImage):
decoded and checked the same way everywhere, so a caller gets the same answer from each."""
from __future__ import annotations

import numpy as np

from services.runtime.errors import InvalidInput, TooLarge
from services.runtime.imaging import ImageLimits, rgb_from_raw
from xcloud.v1 import common_pb2


def crop_from_proto(face: common_pb2.RawImage, max_side: int) -> np.ndarray:
    """HxWx3 uint8 pixels of the crop; its declared size is bounded before anything is read."""
    return rgb_from_raw(face.width, face.height, face.rgb, ImageLimits(max_pixels=max_side * max_side))


def check_face_crop(crop: np.ndarray, min_side: int, max_side: int) -> None:
    """The crop must be square (as align_face makes it) and its side within [min, max]."""
    height, width = crop.shape[:2]
    if height != width:
        raise InvalidInput(f"face crop is {width}x{height}; send the square crop that "
                           "align_face makes (gateway aligned_size)")
    if width < min_side:
        raise InvalidInput(f"face crop is {width}x{width}; send at least {min_side}x{min_side}")
    if width > max_side:
        raise TooLarge(f"face crop is {width}x{width}; the limit is {max_side}x{max_side}")
