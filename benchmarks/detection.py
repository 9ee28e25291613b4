"""Face-detection benchmarks: dynamic batching on vs off, and served vs raw onnxruntime."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np

from benchmarks.harness import Profile, Request, Row, Skipped, Variant, compare, interleaved
from benchmarks.inputs import ImageCycle
from benchmarks.testbed import Testbed
from services.face_detection.handler import MTCNN_PARTS
from services.face_detection.mtcnn import Detection, MtcnnDetector, MtcnnParams
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.imaging import decode_image
from services.runtime.repository import ModelRepository
from services.runtime.session import LoadedModel
from xcloud.v1 import common_pb2, face_detection_pb2, face_detection_pb2_grpc

BATCHING_CONCURRENCY = (1, 8, 32)
SERVED_CONCURRENCY = 8
TIMEOUT_S = 300.0  # generous: at concurrency 32 without batching, calls wait in line


def detect_call(channel: grpc.aio.Channel, images: ImageCycle) -> Request:
    """One Detect call with the service's default options on the next image."""
    stub = face_detection_pb2_grpc.FaceDetectionStub(channel)

    async def call() -> face_detection_pb2.DetectResponse:
        request = face_detection_pb2.DetectRequest(image=common_pb2.Image(content=images()))
        return await stub.Detect(request, timeout=TIMEOUT_S)

    return call


async def batching(testbed: Testbed, profile: Profile) -> list[Row | Skipped]:
    """Throughput of one service with dynamic batching on against one with it off."""
    on, off = await asyncio.gather(
        testbed.service("face_detection"), testbed.service("face_detection", batching=False)
    )
    rows: list[Row | Skipped] = []
    async with (grpc.aio.insecure_channel(on.address) as to_on,
                grpc.aio.insecure_channel(off.address) as to_off):
        for concurrency in BATCHING_CONCURRENCY:
            if concurrency > profile.max_concurrency:
                rows.append(Skipped("batching", f"c={concurrency}",
                                    f"the {profile.name} profile stops at "
                                    f"c={profile.max_concurrency}"))
                continue
            variants = [
                Variant("batching on", detect_call(to_on, ImageCycle(testbed.photos)), concurrency),
                Variant("batching off", detect_call(to_off, ImageCycle(testbed.photos)),
                        concurrency),
            ]
            found = await interleaved(variants, profile)
            rows.append(compare("batching", f"c={concurrency}", found["batching on"],
                                found["batching off"], "req/s"))
    return rows


class RawMtcnn:
    """The service's MTCNN pipeline on plain onnxruntime sessions: no gRPC, no batcher.

    Same models, session options, image decoding and detection defaults as the service, so
    that the difference to a Detect call is the serving itself.
    """

    def __init__(self, settings: FaceDetectionSettings):
        repository = ModelRepository(settings.model_repository)
        self._models = {name: LoadedModel(repository.get(name), settings.providers,
                                          settings.intra_op_threads) for name in MTCNN_PARTS}
        self._detector = MtcnnDetector(self._infer)
        self._params = MtcnnParams(min_face_size=settings.min_face_size,
                                   score_threshold=settings.score_threshold)

    async def _infer(self, name: str, rows: np.ndarray) -> list[np.ndarray]:
        return self._models[name].run(rows)

    async def detect(self, jpeg: bytes) -> list[Detection]:
        return await self._detector.detect(decode_image(jpeg), self._params)

    def detect_blocking(self, jpeg: bytes) -> list[Detection]:
        """For worker threads, each of which runs the pipeline on its own event loop."""
        return asyncio.run(self.detect(jpeg))


def sequential(raw: RawMtcnn, images: ImageCycle) -> Request:
    """Runs on the benchmark's event loop: nothing else runs while it computes."""
    return lambda: raw.detect(images())


def threaded(raw: RawMtcnn, images: ImageCycle, pool: ThreadPoolExecutor) -> Request:
    return lambda: asyncio.get_running_loop().run_in_executor(pool, raw.detect_blocking, images())


async def served_vs_raw(testbed: Testbed, profile: Profile) -> list[Row]:
    """Detect over gRPC with batching against the bare pipeline, sequential and threaded."""
    served = await testbed.service("face_detection")
    raw = await asyncio.to_thread(RawMtcnn, FaceDetectionSettings())
    photos = testbed.photos
    with ThreadPoolExecutor(SERVED_CONCURRENCY, thread_name_prefix="raw") as pool:
        async with grpc.aio.insecure_channel(served.address) as channel:
            size = profile.requests(SERVED_CONCURRENCY)
            variants = [
                Variant("served", detect_call(channel, ImageCycle(photos)), SERVED_CONCURRENCY),
                Variant("raw sequential", sequential(raw, ImageCycle(photos)), 1, size),
                Variant("raw threads", threaded(raw, ImageCycle(photos), pool), SERVED_CONCURRENCY),
            ]
            found = await interleaved(variants, profile)
    case = f"c={SERVED_CONCURRENCY}"
    return [compare("served_vs_raw", f"{case} / sequential", found["served"],
                    found["raw sequential"], "req/s"),
            compare("served_vs_raw", f"{case} / {SERVED_CONCURRENCY} threads", found["served"],
                    found["raw threads"], "req/s")]
