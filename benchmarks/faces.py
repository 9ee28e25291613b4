"""Per-face benchmarks: the face-attributes service against its bare models, and the whole
per-face pipeline through the gateway against detection alone.

- ``attributes_served_vs_raw``: Predict with the embedding at concurrency 8 (every installed
  part, the service's dynamic batching; with the shared trunk installed that is one graph)
  against the same models on plain onnxruntime, one crop at a time, each model at its part's
  framing: the ratio is the price or the gain of serving.
- ``per_face_pipeline``: Analyze with detection + attributes + expression + embedding against
  detection only, both uncached, distinct images, side by side, at c=1 (p50) and c=16
  (req/s): what the per-face calls (one per backend, every face in it) add to a request.
"""
from __future__ import annotations

import asyncio

import grpc
import numpy as np

from benchmarks.harness import Profile, Request, Row, Skipped, Variant, compare, interleaved
from benchmarks.inputs import ImageCycle
from benchmarks.testbed import Testbed
from services.face_attributes.parts import EMBEDDINGS, PARTS, active_parts
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.repository import ModelRepository
from services.runtime.session import LoadedModel
from tests.services.face_attributes.support import astronaut_crop  # the gateway's crop of it
from xcloud.client import analyze_request
from xcloud.v1 import common_pb2, face_attributes_pb2, face_attributes_pb2_grpc, gateway_pb2_grpc

CONCURRENCY = 8
PIPELINE_CONCURRENCY = (1, 16)
TIMEOUT_S = 300.0
PER_FACE_TASKS = ["detection", "attributes", "expression", "embedding"]


class RawAttributes:
    """Every installed part's model and the embedding's on plain onnxruntime, one inference
    per (model, framing): what the service runs for Predict with the embedding."""

    def __init__(self, settings: FaceAttributesSettings):
        repository = ModelRepository(settings.model_repository)
        table = (*PARTS, *EMBEDDINGS)
        installed = {p.model for p in table if repository.is_installed(p.model)}
        parts = [p for p in (*active_parts(PARTS, installed), *active_parts(EMBEDDINGS, installed))
                 if p.model in installed]
        self._views = list(dict.fromkeys((p.model, p.framing) for p in parts))
        self._models = {m: LoadedModel(repository.get(m), settings.providers,
                                       settings.intra_op_threads)
                        for m, _ in self._views}

    def predict(self, crop: np.ndarray) -> list[list[np.ndarray]]:
        out = []
        for model, framing in self._views:
            view = reframe(crop, SHARED_CROP_MARGIN, framing.margin, framing.size)
            out.append(self._models[model].run(view.transpose(2, 0, 1)[None].astype(np.float32)))
        return out


def predict_call(channel: grpc.aio.Channel, crop: np.ndarray) -> Request:
    stub = face_attributes_pb2_grpc.FaceAttributesStub(channel)
    face = common_pb2.RawImage(width=crop.shape[1], height=crop.shape[0], rgb=crop.tobytes())

    async def call() -> face_attributes_pb2.FaceAttributesResponse:
        request = face_attributes_pb2.FaceAttributesRequest(faces=[face], with_embedding=True)
        return await stub.Predict(request, timeout=TIMEOUT_S)

    return call


async def attributes_served_vs_raw(testbed: Testbed, profile: Profile) -> list[Row]:
    served = await testbed.service("face_attributes")
    raw = await asyncio.to_thread(RawAttributes, FaceAttributesSettings())
    crop = astronaut_crop()

    async def sequential() -> list:  # on the event loop: nothing else runs meanwhile
        return raw.predict(crop)

    async with grpc.aio.insecure_channel(served.address) as channel:
        variants = [Variant("served", predict_call(channel, crop), CONCURRENCY),
                    Variant("raw sequential", sequential, 1, profile.requests(CONCURRENCY))]
        found = await interleaved(variants, profile)
    return [compare("attributes", f"c={CONCURRENCY} / sequential", found["served"],
                    found["raw sequential"], "req/s")]


def analyze_call(channel: grpc.aio.Channel, images: ImageCycle, tasks: list[str],
                 no_cache: bool = True) -> Request:
    """Analyze of the next image; a task that did not answer OK fails the call."""
    stub = gateway_pb2_grpc.GatewayStub(channel)

    async def call():
        reply = await stub.Analyze(analyze_request(images(), tasks, no_cache=no_cache),
                                   timeout=TIMEOUT_S)
        failed = [s for s in reply.statuses if s.code != common_pb2.STATUS_CODE_OK]
        if failed:
            raise RuntimeError(f"tasks failed in the gateway: {failed}")
        return reply

    return call


async def per_face_pipeline(testbed: Testbed, profile: Profile) -> list[Row | Skipped]:
    gateway = await testbed.gateway(("face_detection", "face_attributes", "expression"),
                                    backend_timeout_s=TIMEOUT_S)
    rows: list[Row | Skipped] = []
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        for concurrency in PIPELINE_CONCURRENCY:
            case = f"detect+attributes+expression+embedding / detect, c={concurrency}"
            if concurrency > profile.max_concurrency:
                rows.append(Skipped("per_face", case, f"the {profile.name} profile stops at "
                                                      f"c={profile.max_concurrency}"))
                continue
            variants = [
                Variant(label,
                        analyze_call(channel, ImageCycle(testbed.corpus, unique=True), tasks),
                        concurrency)
                for label, tasks in (("every face task", PER_FACE_TASKS),
                                     ("detection only", ["detection"]))
            ]
            found = await interleaved(variants, profile)
            figure = "p50" if concurrency == 1 else "req/s"
            rows.append(compare("per_face", case, found["every face task"],
                                found["detection only"], figure))
    return rows
