"""The aligned face crops every per-face service takes (the gateway's shared crop, a RawImage):
decoded and checked the same way everywhere, so a caller gets the same answer from each.

A call carries one face (``face``, the original field) or every face of an image (``faces``,
the batch axis). The count is checked before any crop is decoded, so an oversized call costs
nothing but its message.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.runtime.errors import InvalidInput, TooLarge
from services.runtime.imaging import ImageLimits, rgb_from_raw
from services.runtime.pool import ModelPool
from xcloud.v1 import common_pb2


@dataclass(frozen=True)
class FaceCrops:
    crops: list[np.ndarray]
    batched: bool  # the caller sent ``faces`` (answers go to the repeated fields)


def crop_from_proto(face: common_pb2.RawImage, max_side: int) -> np.ndarray:
    """HxWx3 uint8 pixels of the crop; its declared size is bounded before anything is read."""
    limits = ImageLimits(max_pixels=max_side * max_side)
    return rgb_from_raw(face.width, face.height, face.rgb, limits)


def crops_from_request(request, max_side: int, max_faces: int, setting: str) -> FaceCrops:
    """The crops of a request with ``face`` and ``repeated faces``; ``setting`` names the
    environment variable that raises ``max_faces`` (for the error message)."""
    faces: Sequence[common_pb2.RawImage] = request.faces
    if not faces:
        return FaceCrops([crop_from_proto(request.face, max_side)], batched=False)
    if request.HasField("face"):
        raise InvalidInput("send either `face` (one crop) or `faces` (every crop), not both")
    if len(faces) > max_faces:
        raise TooLarge(f"{len(faces)} faces in one call; at most {max_faces} ({setting}): "
                       "split the faces over several calls")
    crops = []
    for index, face in enumerate(faces):
        try:
            crops.append(crop_from_proto(face, max_side))
        except (InvalidInput, TooLarge) as error:
            raise type(error)(f"faces[{index}]: {error.message}") from None
    return FaceCrops(crops, batched=True)


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


def check_face_crops(crops: Sequence[np.ndarray], min_side: int, max_side: int) -> None:
    """check_face_crop on each; a batched call's message names the face that failed."""
    for index, crop in enumerate(crops):
        try:
            check_face_crop(crop, min_side, max_side)
        except (InvalidInput, TooLarge) as error:
            prefix = f"faces[{index}]: " if len(crops) > 1 else ""
            raise type(error)(prefix + error.message) from None


async def infer_rows(pool: ModelPool, model: str, rows: np.ndarray, chunk: int,
                     deadline: float | None = None) -> list[np.ndarray]:
    """``rows`` (faces on the batch axis) through ``model``'s batcher in blocks of at most
    ``chunk`` rows, outputs joined back in row order. Blocks, not one oversized request, so
    the batcher still merges them with other calls' rows and no run exceeds its warmed-up
    batch sizes."""
    if len(rows) <= chunk:
        return await pool.infer(model, rows, deadline)
    blocks = [rows[start:start + chunk] for start in range(0, len(rows), chunk)]
    parts = await asyncio.gather(*(pool.infer(model, block, deadline) for block in blocks))
    return [np.concatenate(outputs) for outputs in zip(*parts)]


def with_mirrors(rows: np.ndarray) -> np.ndarray:
    """NCHW rows followed by their mirror images (flipped left-right): 2N rows."""
    return np.concatenate([rows, rows[..., ::-1]])


def mean_of_mirrors(output: np.ndarray) -> np.ndarray:
    """The average of each row's two passes, for outputs of ``with_mirrors`` rows."""
    half = len(output) // 2
    return (output[:half] + output[half:]) / 2


def mean_embedding_of_mirrors(output: np.ndarray) -> np.ndarray:
    """The mean of the two passes' embeddings, scaled back to their mean norm: an
    L2-normalised model's answer stays unit length, and an unnormalised one (face-api) keeps
    the scale its distance threshold was chosen at."""
    half = len(output) // 2
    first, second = output[:half], output[half:]
    mean = (first + second) / 2
    norm = (np.linalg.norm(first, axis=1) + np.linalg.norm(second, axis=1)) / 2
    length = np.linalg.norm(mean, axis=1)
    return (mean * (norm / np.maximum(length, 1e-12))[:, None]).astype(np.float32)
