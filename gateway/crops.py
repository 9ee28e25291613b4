"""Aligned crops at the size each consumer takes.

Detection runs once, at the largest crop side any consumer (a per-face task, or the caller
through options.detection.aligned_size) asked for; smaller sides are made here by area
resampling. A similarity-aligned crop scaled down equals the crop aligned at the smaller
side up to interpolation, and this is no image decode: the crop is raw RGB already.
"""
from __future__ import annotations

import cv2
import grpc
import numpy as np

from gateway.clients import BackendError
from xcloud.v1 import common_pb2, gateway_pb2


def resized(crop: common_pb2.RawImage, side: int) -> common_pb2.RawImage:
    """``crop`` as a ``side`` x ``side`` RawImage (the same message when already that size)."""
    if crop.width == side and crop.height == side:
        return crop
    pixels = np.frombuffer(crop.rgb, np.uint8).reshape(crop.height, crop.width, 3)
    scaled = cv2.resize(pixels, (side, side), interpolation=cv2.INTER_AREA)
    return common_pb2.RawImage(width=side, height=side, rgb=scaled.tobytes())


def of_face(face: common_pb2.Face, side: int) -> common_pb2.RawImage:
    """The face's aligned crop at ``side``; a crop detection did not make whole is its bug."""
    aligned = face.aligned
    if not face.HasField("aligned") or len(aligned.rgb) != aligned.width * aligned.height * 3:
        raise BackendError("detection", grpc.StatusCode.INTERNAL,
                           "detection returned no usable aligned crop")
    return resized(aligned, side)


def for_caller(response: gateway_pb2.AnalyzeResponse, side: int) -> None:
    """Crops leave the gateway only when asked for, at the side asked for (in place)."""
    for analysis in response.faces:
        if side <= 0 or not analysis.face.HasField("aligned"):
            analysis.face.ClearField("aligned")
        else:
            analysis.face.aligned.CopyFrom(resized(analysis.face.aligned, side))


def as_stored(fragment: gateway_pb2.AnalyzeResponse, side: int) -> gateway_pb2.AnalyzeResponse:
    """Detection's answer as the cache keeps it: the crops only the caller asked for, at the
    caller's side. The per-face tasks' crops are not kept: their answers are cached on their
    own, and when one is not, one uncached Detect makes the crops again (gateway/faces.py)."""
    stored = gateway_pb2.AnalyzeResponse()
    stored.CopyFrom(fragment)
    for_caller(stored, side)
    return stored
