"""Per-face benchmarks: the face-attributes service against its bare models, and the whole
per-face pipeline through the gateway against detection alone.

- ``attributes_served_vs_raw``: Predict at concurrency 8 (every installed part, the service's
  dynamic batching) against the same models on plain onnxruntime, one crop at a time, each
  model at its part's framing: the ratio is the price or the gain of serving.
- ``per_face_pipeline``: Analyze with detection + attributes + expression + embedding against
  detection only, both uncached, side by side: what the per-face fan-out adds to a request.
"""
from __future__ import annotations

import asyncio

import grpc
import numpy as np

from benchmarks.harness import Profile, Request, Row, Variant, compare, interleaved
from benchmarks.inputs import ImageCycle
from benchmarks.testbed import Testbed
from services.face_attributes.parts import PARTS, active_parts
from services.face_attributes.settings import FaceAttributesSettings
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from services.runtime.repository import ModelRepository
from services.runtime.session import LoadedModel
from tests.services.face_attributes.support import astronaut_crop  # the gateway's crop of it
from xcloud.client import analyze_request
from xcloud.v1 import common_pb2, face_attributes_pb2, face_attributes_pb2_grpc, gateway_pb2_grpc

CONCURRENCY = 8
TIMEOUT_S = 300.0
PER_FACE_TASKS = ["detection", "attributes", "expression", "embedding"]


class RawAttributes:
    """Every installed part's model on plain onnxruntime, one inference per (model, framing)."""

    def __init__(self, settings: FaceAttributesSettings):
        repository = ModelRepository(settings.model_repository)
        installed = {p.model for p in PARTS if repository.is_installed(p.model)}
        parts = [p for p in active_parts(PARTS, installed) if p.model in installed]
        self._views = list(dict.fromkeys((p.model, p.framing) for p in parts))
        self._models = {m: LoadedModel(repository.get(m), settings.providers, settings.intra_op_threads)
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
        return await stub.Predict(face_attributes_pb2.FaceAttributesRequest(face=face),
                                  timeout=TIMEOUT_S)

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


def analyze_call(channel: grpc.aio.Channel, images: ImageCycle, tasks: list[str]) -> Request:
    stub = gateway_pb2_grpc.GatewayStub(channel)

    async def call():
        reply = await stub.Analyze(analyze_request(images(), tasks, no_cache=True),
                                   timeout=TIMEOUT_S)
        failed = [s for s in reply.statuses if s.code != common_pb2.STATUS_CODE_OK]
        if failed:
            raise RuntimeError(f"tasks failed in the gateway: {failed}")
        return reply

    return call


async def per_face_pipeline(testbed: Testbed, profile: Profile) -> list[Row]:
    gateway = await testbed.gateway(("face_detection", "face_attributes", "expression"),
                                    backend_timeout_s=TIMEOUT_S)
    async with grpc.aio.insecure_channel(gateway.address) as channel:
        variants = [
            Variant("every face task", analyze_call(channel, ImageCycle(testbed.photos), PER_FACE_TASKS), 1),
            Variant("detection only", analyze_call(channel, ImageCycle(testbed.photos), ["detection"]), 1),
        ]
        found = await interleaved(variants, profile)
    return [compare("per_face", "detect+attributes+expression+embedding / detect, c=1",
                    found["every face task"], found["detection only"], "p50")]
