"""Aligned crops at the size each consumer takes.

Detection runs once, at the largest crop side any consumer (a per-face task, or the caller
through options.detection.aligned_size) asked for; smaller sides are made here by area
resampling. A similarity-aligned crop scaled down equals the crop aligned at the smaller
side up to interpolation, and this is no image decode: the crop is raw RGB already.
"""
from __future__ import annotations

import cv2
import numpy as np

from xcloud.v1 import common_pb2


def resized(crop: common_pb2.RawImage, side: int) -> common_pb2.RawImage:
    """``crop`` as a ``side`` x ``side`` RawImage (the same message when already that size)."""
    if crop.width == side and crop.height == side:
        return crop
    pixels = np.frombuffer(crop.rgb, np.uint8).reshape(crop.height, crop.width, 3)
    scaled = cv2.resize(pixels, (side, side), interpolation=cv2.INTER_AREA)
    return common_pb2.RawImage(width=side, height=side, rgb=scaled.tobytes())
