"""Shared by the fine-grained tests: the served models and a JPEG encoder."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from xcloud import names

SERVED = (names.MOBILENET_V2_IMAGENET, names.FLOWERS17)


def jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()
