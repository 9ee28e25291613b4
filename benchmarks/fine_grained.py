"""Fine-grained benchmark: Classify over gRPC (dynamic batching) against the bare pipeline.

The raw side runs exactly what a Classify call computes — decode, centre crop and normalise,
the same ONNX model with the same session options, top-5 — on plain onnxruntime, so the ratio
is the price (or the gain, through batching) of the serving itself.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import grpc

from benchmarks.harness import Profile, Request, Row, Variant, compare, interleaved
from benchmarks.inputs import ImageCycle
from benchmarks.testbed import Testbed
from services.fine_grained.handler import PROBABILITIES, Label, top_labels
from services.fine_grained.preprocess import preprocess
from services.fine_grained.settings import FineGrainedSettings
from services.runtime.imaging import decode_image
from services.runtime.repository import ModelRepository
from services.runtime.session import LoadedModel
from xcloud.v1 import common_pb2, fine_grained_pb2, fine_grained_pb2_grpc

CONCURRENCY = 8
TIMEOUT_S = 300.0
TOP_K = 5


def classify_call(channel: grpc.aio.Channel, images: ImageCycle) -> Request:
    stub = fine_grained_pb2_grpc.FineGrainedStub(channel)

    async def call() -> fine_grained_pb2.FineGrainedClassifyResponse:
        request = fine_grained_pb2.FineGrainedClassifyRequest(
            image=common_pb2.Image(content=images()), top_k=TOP_K)
        return await stub.Classify(request, timeout=TIMEOUT_S)

    return call


class RawClassifier:
    """The service's default classifier on a plain onnxruntime session."""

    def __init__(self, settings: FineGrainedSettings):
        card = ModelRepository(settings.model_repository).get(settings.default_model)
        self._model = LoadedModel(card, settings.providers, settings.intra_op_threads)
        self._names = card.labels_of(PROBABILITIES)

    def classify(self, jpeg: bytes) -> list[Label]:
        (probabilities,) = self._model.run(preprocess(decode_image(jpeg)))
        return top_labels(probabilities[0], TOP_K, self._names)


async def served_vs_raw(testbed: Testbed, profile: Profile) -> list[Row]:
    """Classify at concurrency 8 against the raw pipeline, sequential and on 8 threads."""
    served = await testbed.service("fine_grained")
    raw = await asyncio.to_thread(RawClassifier, FineGrainedSettings())
    photos = testbed.photos

    async def sequential() -> list[Label]:  # on the event loop: nothing else runs meanwhile
        return raw.classify(next_sequential())

    next_sequential = ImageCycle(photos)
    with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="raw") as pool:
        next_threaded = ImageCycle(photos)

        def threaded() -> asyncio.Future:
            return asyncio.get_running_loop().run_in_executor(pool, raw.classify, next_threaded())

        async with grpc.aio.insecure_channel(served.address) as channel:
            variants = [
                Variant("served", classify_call(channel, ImageCycle(photos)), CONCURRENCY),
                Variant("raw sequential", sequential, 1, profile.requests(CONCURRENCY)),
                Variant("raw threads", threaded, CONCURRENCY),
            ]
            found = await interleaved(variants, profile)
    case = f"c={CONCURRENCY}"
    return [compare("fine_grained", f"{case} / sequential", found["served"],
                    found["raw sequential"], "req/s"),
            compare("fine_grained", f"{case} / {CONCURRENCY} threads", found["served"],
                    found["raw threads"], "req/s")]
