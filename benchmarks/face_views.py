"""What the per-face pipeline feeds its models, outside the servers: the same framings as the
gateway and the services, so the in-process and naive baselines do the same work.

The gateway asks detection for crops aligned at SHARED_CROP_MARGIN and FACE_CROP_SIDE; the
face-attributes service (shared trunk + identity embedding, one view) and the expression
service cut their own views out of that crop. Here the same three steps run on the detector's
landmarks.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateway.tasks import FACE_CROP_SIDE
from services.expression.settings import ExpressionSettings
from services.face_attributes.parts import HEAD_FRAMING, TRUNK
from services.face_detection.mtcnn import Detection
from services.runtime.alignment import SHARED_CROP_MARGIN, align_face, reframe
from xcloud import names

EXPRESSION = names.FACEAPI_EXPRESSION
EXPRESSION_SIDE = 112  # face-api's input side
MAX_FACES = 32         # the gateway's default max_faces
EMBEDDING = names.FACE_EMBEDDING  # reads the trunk's view (HEAD_FRAMING)
PER_FACE_MODELS = (TRUNK, EMBEDDING, EXPRESSION)


@dataclass(frozen=True)
class FaceRows:
    """Every face of some images as NCHW float32 rows, one block per model."""

    trunk: np.ndarray       # (F, 3, 224, 224)
    expression: np.ndarray  # (F, 3, 112, 112)

    @property
    def faces(self) -> int:
        return len(self.trunk)

    def blocks(self) -> tuple[tuple[str, np.ndarray], ...]:
        """(model, its rows) for every per-face model, in PER_FACE_MODELS order."""
        return (TRUNK, self.trunk), (EMBEDDING, self.trunk), (EXPRESSION, self.expression)


def _nchw(view: np.ndarray) -> np.ndarray:
    return view.transpose(2, 0, 1).astype(np.float32)


def face_rows(rgb: np.ndarray, found: Sequence[Detection], max_faces: int = MAX_FACES) -> FaceRows:
    """The trunk's and the expression net's rows for the highest-scored faces (detector order)."""
    margin = ExpressionSettings().margin  # the service's framing, as it would read it
    crops = [align_face(rgb, d.landmarks, FACE_CROP_SIDE, SHARED_CROP_MARGIN)
             for d in found[:max_faces]]
    trunk = [_nchw(reframe(c, SHARED_CROP_MARGIN, HEAD_FRAMING.margin, HEAD_FRAMING.size))
             for c in crops]
    expression = [_nchw(reframe(c, SHARED_CROP_MARGIN, margin, EXPRESSION_SIDE)) for c in crops]
    return FaceRows(_block(trunk, HEAD_FRAMING.size), _block(expression, EXPRESSION_SIDE))


def _block(rows: list[np.ndarray], side: int) -> np.ndarray:
    return np.stack(rows) if rows else np.zeros((0, 3, side, side), np.float32)


def concatenate(parts: Sequence[FaceRows]) -> FaceRows:
    return FaceRows(np.concatenate([p.trunk for p in parts]),
                    np.concatenate([p.expression for p in parts]))
