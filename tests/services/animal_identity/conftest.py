"""Fixtures of the identity suite: a real embedded PostgreSQL, the real models, real faces.

The faces come from the demo photos shipped in face-api's pinned npm package (group photos
of different people), found and aligned by our own MTCNN exactly as the gateway does it.
"""
from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import cv2
import grpc
import numpy as np
import pytest
from PIL import Image

from models.build import main as build_models
from models.faceapi.weights import FACE_API
from models.packages import fetch_file
from services.animal_identity.app import AnimalIdentityApp
from services.animal_identity.embedded import EmbeddedPostgres
from services.animal_identity.settings import AnimalIdentitySettings
from services.face_detection.handler import MTCNN_PARTS, DetectParams, FaceDetectionHandler
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.alignment import SHARED_CROP_MARGIN
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool
from tests.conftest import MODEL_REPOSITORY, model_card_path
from tests.support.servers import running
from xcloud import names
from xcloud.v1 import animal_identity_pb2_grpc, common_pb2

IDENTITY_MODELS = (names.FACE_EMBEDDING, names.MOBILENET_V2_FEATURES, names.ANIMAL_REID)
DEMO_PHOTOS = [f"demo/sample{i}.jpg" for i in range(1, 7)]
CROP_SIDE = 256  # the side the gateway sends: the face model's 150 px chip is 138 px of it


@pytest.fixture(scope="session")
def identity_models(detection_models) -> Path:
    missing = [m for m in IDENTITY_MODELS
               if not model_card_path(m).with_name("model.onnx").is_file()]
    if missing:
        build_models(missing)
    return MODEL_REPOSITORY


@pytest.fixture
def database_dir() -> Iterator[Path]:
    """A fresh folder for a database's data directory, outside pytest's tmp_path: pytest makes
    its own tree private again (0700) when it numbers a new folder, and the server's
    unprivileged user (pgserver runs it as one when we are root) would then lose its way in."""
    folder = Path(tempfile.mkdtemp(prefix="xcloud-gallery-"))
    try:
        yield folder / "pg"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def gallery_database() -> Iterator[EmbeddedPostgres]:
    """One real PostgreSQL + pgvector for the suite (each test uses its own collections)."""
    folder = Path(tempfile.mkdtemp(prefix="xcloud-gallery-"))
    database = EmbeddedPostgres(folder / "pg")
    try:
        yield database
    finally:
        database.stop()
        shutil.rmtree(folder, ignore_errors=True)


def identity_settings(database: EmbeddedPostgres, **overrides) -> AnimalIdentitySettings:
    return AnimalIdentitySettings(port=0, metrics_port=0, database_url=database.url,
                                  max_batch_size=4, **overrides)


@pytest.fixture(scope="session")
async def identity_server(identity_models, gallery_database) -> AsyncIterator:
    settings = identity_settings(gallery_database)
    async with running(AnimalIdentityApp(settings), settings) as live:
        yield live


@pytest.fixture(scope="session")
async def identity_stub(
        identity_server) -> AsyncIterator[animal_identity_pb2_grpc.AnimalIdentityStub]:
    async with grpc.aio.insecure_channel(identity_server.address) as channel:
        yield animal_identity_pb2_grpc.AnimalIdentityStub(channel)


def raw_image(rgb: np.ndarray) -> common_pb2.RawImage:
    height, width = rgb.shape[:2]
    return common_pb2.RawImage(width=width, height=height, rgb=np.ascontiguousarray(rgb).tobytes())


def jpeg(rgb: np.ndarray) -> common_pb2.Image:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return common_pb2.Image(content=buffer.getvalue())


@pytest.fixture(scope="session")
async def demo_faces(detection_models) -> list[np.ndarray]:
    """Aligned crops (margin SHARED_CROP_MARGIN) of every confident face in face-api's demos."""
    settings = FaceDetectionSettings(port=0, metrics_port=None, max_batch_size=8)
    pool = ModelPool(settings, list(MTCNN_PARTS))
    await pool.start()
    try:
        handler = FaceDetectionHandler(settings, pool)
        params = DetectParams(aligned_size=CROP_SIDE, aligned_margin=SHARED_CROP_MARGIN,
                              score_threshold=0.95, min_face_size=40)
        crops = []
        for member in DEMO_PHOTOS:
            rgb = decode_image(fetch_file(FACE_API, member).read_bytes())
            # half size: the faces stay 50-80 px wide and the pyramid costs a quarter
            half = (rgb.shape[1] // 2, rgb.shape[0] // 2)
            rgb = cv2.resize(rgb, half, interpolation=cv2.INTER_AREA)
            found = await handler.detect_pixels(rgb, params)
            crops += [face.aligned for face in found.faces]
    finally:
        await pool.stop()
    return crops
