"""Detection's memory bounds: an exact uint32 integral image at any size (12 bytes a pixel,
not float64's 24 plus a whole-image temporary), and a per-process pixel budget on the server."""
from __future__ import annotations

import asyncio
import tracemalloc

import grpc
import numpy as np
import pytest

from services.face_detection.app import FaceDetectionApp
from services.face_detection.boxes import NORM_MEAN, NORM_SCALE, AreaSampler
from services.face_detection.settings import FaceDetectionSettings
from tests.support.servers import running
from xcloud.v1 import common_pb2, face_detection_pb2_grpc
from xcloud.v1 import face_detection_pb2 as fd

SIDE = 4404  # 19.4 Mpx of bright pixels: the running sums pass 2**32 and wrap


@pytest.mark.slow
def test_the_integral_of_a_huge_image_is_exact_and_twelve_bytes_a_pixel():
    rgb = np.random.default_rng(7).integers(200, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    assert rgb[..., 0].sum(dtype=np.uint64) > 2**32  # so the corner below is past the wrap
    tracemalloc.start()
    try:
        sampler = AreaSampler(rgb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pixels = (SIDE + 1) ** 2
    assert sampler.integral.dtype == np.uint32
    # 12 for the integral plus a few row blocks (float64 was 24 plus a 24-byte temporary)
    assert peak < 16 * pixels, f"{peak / pixels:.1f} bytes a pixel while building"
    # The far corner, where every running sum has wrapped: cells equal the direct means.
    y0, x0 = SIDE - 480, SIDE - 960
    got = sampler.resample(y0, SIDE, x0, SIDE, 12, 24)
    cells = rgb[y0:, x0:].reshape(12, 40, 24, 40, 3).astype(np.float64).mean(axis=(1, 3))
    want = ((cells.astype(np.float32) - NORM_MEAN) * NORM_SCALE).transpose(2, 0, 1)
    np.testing.assert_allclose(got, want, atol=1e-6)
    whole = sampler.resample(0, SIDE, 0, SIDE, 12, 12)  # cells of 135 k pixels each
    means = rgb.reshape(12, 367, 12, 367, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_allclose(whole, ((means.astype(np.float32) - NORM_MEAN) * NORM_SCALE)
                               .transpose(2, 0, 1), atol=1e-6)


async def test_detections_past_the_pixel_budget_are_refused_then_served(detection_models,
                                                                        astronaut_jpeg):
    # Room for one 512x512 image at a time: concurrent calls beyond it must be refused.
    settings = FaceDetectionSettings(port=0, metrics_port=None, detection_pixel_budget=300_000)
    app = FaceDetectionApp(settings)
    request = fd.DetectRequest(image=common_pb2.Image(content=astronaut_jpeg))
    async with running(app, settings) as server, \
            grpc.aio.insecure_channel(server.address) as channel:
        stub = face_detection_pb2_grpc.FaceDetectionStub(channel)
        results = await asyncio.gather(*(stub.Detect(request, timeout=60) for _ in range(8)),
                                       return_exceptions=True)
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert refused and len(refused) < 8, results
        for error in refused:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "detection busy" in error.details() and "retry" in error.details()
        assert all(len(r.faces) == 1 for r in results if not isinstance(r, Exception))
        assert len((await stub.Detect(request, timeout=60)).faces) == 1
    assert app.handler.budget.in_use == 0
