"""XCloud beside what else could serve the same models, measured by the same load generator.

Every comparison sends the same distinct images (``testbed.corpus``) or the same face crops to
both systems, takes turns with them in timed rounds (``loadgen.side_by_side``) at c = 1, 4 and
16 (closed loop), and reports the ratio at the load its target names; the other loads are the
plot's points (``Sweep``).

- ``compute_limit``: the per-face pipeline through the gateway (detection, attributes,
  expression, embedding; no_cache) against the same ONNX models in this process with batching
  (``raw_pipeline``). Target: served >= 0.8 x raw at c=16.
- ``naive``: the same Analyze against ``naive_server`` (one process, one image at a time,
  PyTorch eager). Targets: >= 3 x its throughput at c=16, p50 at c=1 no worse.
- ``thread_budget``: the same pipeline on the launcher's budget (intra-op threads; batch size
  1 for the per-crop services on small hosts) against the settings' defaults: the before and
  after of that change, side by side.
- ``mlserver_expression``, ``mlserver_trunk``: the expression service (Classify) and the
  face-attributes service (Predict with the embedding: the shared trunk) against MLServer
  serving the same ONNX model with adaptive batching. MLServer gets the model's input tensor,
  already cut and resized by the client (less work than XCloud's services do: they reframe
  the gateway's 224 px crop themselves). Target: >= 2 x its throughput at c=16 with an equal
  or lower p99, against MLServer as a user gets it (onnxruntime's default threads, batches of
  up to 16); a third curve gives MLServer the launcher's budget for that service (its intra-op
  threads and batch size), to show how much of the ratio that budget is.
"""
from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import grpc
import numpy as np

from benchmarks import mlserver
from benchmarks.faces import PER_FACE_TASKS, analyze_call
from benchmarks.harness import Measurement, Profile, Request, Row, Skipped, compare
from benchmarks.inputs import ImageCycle
from benchmarks.loadgen import Load, Sweep, System, side_by_side
from benchmarks.raw_pipeline import BatchingRunner, RawPipeline
from benchmarks.testbed import Testbed
from gateway.tasks import FACE_CROP_SIDE
from services.expression.settings import ExpressionSettings
from services.face_attributes.parts import HEAD_FRAMING, TRUNK
from services.face_detection.settings import FaceDetectionSettings
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from xcloud import names
from xcloud.v1 import (
    common_pb2,
    expression_pb2,
    expression_pb2_grpc,
    face_attributes_pb2,
    face_attributes_pb2_grpc,
    face_detection_pb2,
    face_detection_pb2_grpc,
)

LOADS = tuple(Load("closed", c) for c in (1, 4, 16))
HEADLINE = Load("closed", 16)
SINGLE = Load("closed", 1)
TIMEOUT_S = 300.0
PIPELINE_BACKENDS = ("face_detection", "face_attributes", "expression")


@dataclass(frozen=True)
class Target:
    """What a row's ratio must be: ``op`` ">=" or "<=" ``value``."""

    op: str
    value: float

    def holds(self, ratio: float) -> bool:
        return ratio >= self.value if self.op == ">=" else ratio <= self.value

    def __str__(self) -> str:
        return f"{'≥' if self.op == '>=' else '≤'} {self.value:g}"


TARGETS = {
    ("compute_limit", "c=16"): Target(">=", 0.8),
    ("naive", "c=16"): Target(">=", 3.0),
    ("naive", "c=1"): Target("<=", 1.0),
    ("mlserver_expression", "c=16"): Target(">=", 2.0),
    ("mlserver_expression", "c=16 p99"): Target("<=", 1.0),
    ("mlserver_trunk", "c=16"): Target(">=", 2.0),
    ("mlserver_trunk", "c=16 p99"): Target("<=", 1.0),
    ("per_face", "detect+attributes+expression+embedding / detect, c=16"): Target(">=", 0.35),
}


async def sweep(benchmark: str, title: str, systems: Sequence[System], testbed: Testbed,
                profile: Profile, loads: Sequence[Load] = LOADS) -> tuple[Sweep, dict]:
    """Every system at every load, side by side; (the Sweep, {load: {system: Measurement}})."""
    found: dict[Load, dict[str, Measurement]] = {}
    testbed.progress.plan(len(loads) * len(systems) * profile.rounds)
    for load in loads:
        found[load] = await side_by_side(systems, load, profile.rounds, profile.round_s,
                                         profile.warmup_s, testbed.progress)
    points = {s.name: [(load, found[load][s.name]) for load in loads] for s in systems}
    return Sweep(benchmark, title, points), found


def _runner_call(runner: BatchingRunner, images: ImageCycle) -> Request:
    return lambda: runner(images())


async def compute_limit(testbed: Testbed, profile: Profile) -> list[Row | Skipped | Sweep]:
    gateway = await testbed.gateway(PIPELINE_BACKENDS, backend_timeout_s=TIMEOUT_S)
    runner = BatchingRunner(await asyncio.to_thread(RawPipeline, FaceDetectionSettings()))
    try:
        async with grpc.aio.insecure_channel(gateway.address) as channel:
            systems = [System("xcloud", analyze_call(channel, ImageCycle(testbed.corpus, True),
                                                     PER_FACE_TASKS)),
                       System("raw in-process", _runner_call(runner, ImageCycle(testbed.corpus)))]
            plot, found = await sweep("compute_limit", "Per-face pipeline: XCloud vs its models "
                                      "in-process (compute limit)", systems, testbed, profile)
    finally:
        await asyncio.to_thread(runner.close)
    at = found[HEADLINE]
    return [compare("compute_limit", "c=16", at["xcloud"], at["raw in-process"], "req/s"), plot]


async def naive(testbed: Testbed, profile: Profile) -> list[Row | Skipped | Sweep]:
    gateway = await testbed.gateway(PIPELINE_BACKENDS, backend_timeout_s=TIMEOUT_S)
    baseline = await testbed.naive()
    async with (grpc.aio.insecure_channel(gateway.address) as to_gateway,
                grpc.aio.insecure_channel(baseline.address) as to_naive):
        systems = [System("xcloud", analyze_call(to_gateway, ImageCycle(testbed.corpus, True),
                                                 PER_FACE_TASKS)),
                   System("naive PyTorch", analyze_call(to_naive, ImageCycle(testbed.corpus, True),
                                                        PER_FACE_TASKS))]
        plot, found = await sweep("naive", "Per-face pipeline: XCloud vs a naive PyTorch server",
                                  systems, testbed, profile)
    return [compare("naive", "c=16", found[HEADLINE]["xcloud"], found[HEADLINE]["naive PyTorch"],
                    "req/s"),
            compare("naive", "c=1", found[SINGLE]["xcloud"], found[SINGLE]["naive PyTorch"], "p50"),
            plot]


async def thread_budget(testbed: Testbed, profile: Profile) -> list[Row | Skipped | Sweep]:
    """The per-face pipeline on the launcher's budget against the same stack on the settings'
    defaults (onnxruntime's thread pools, a spinning thread per core per session; batches of
    up to 16 crops)."""
    budget = await testbed.gateway(PIPELINE_BACKENDS, backend_timeout_s=TIMEOUT_S)
    default = await testbed.gateway(PIPELINE_BACKENDS, budget=False, backend_timeout_s=TIMEOUT_S)
    async with (grpc.aio.insecure_channel(budget.address) as to_budget,
                grpc.aio.insecure_channel(default.address) as to_default):
        systems = [System(name, analyze_call(channel, ImageCycle(testbed.corpus, True),
                                             PER_FACE_TASKS))
                   for name, channel in (("budget", to_budget), ("defaults", to_default))]
        plot, found = await sweep("thread_budget", "Per-face pipeline: the launcher's budget vs "
                                  "the settings' defaults", systems, testbed, profile,
                                  (SINGLE, HEADLINE))
    return [compare("thread_budget", "c=16", found[HEADLINE]["budget"],
                    found[HEADLINE]["defaults"], "req/s"),
            compare("thread_budget", "c=1", found[SINGLE]["budget"], found[SINGLE]["defaults"],
                    "p50"), plot]


async def face_crops(testbed: Testbed) -> list[common_pb2.RawImage]:
    """The gateway's aligned crop of every face of the corpus, from the detection service."""
    detection = await testbed.service("face_detection")
    options = face_detection_pb2.DetectOptions(aligned_size=FACE_CROP_SIDE,
                                               aligned_margin=SHARED_CROP_MARGIN)
    async with grpc.aio.insecure_channel(detection.address) as channel:
        stub = face_detection_pb2_grpc.FaceDetectionStub(channel)
        replies = [await stub.Detect(face_detection_pb2.DetectRequest(
            image=common_pb2.Image(content=photo.jpeg), options=options), timeout=TIMEOUT_S)
            for photo in testbed.corpus]
    crops = [face.aligned for reply in replies for face in reply.faces]
    if not crops:
        raise RuntimeError("no face found in the benchmark images")
    return crops


def pixels(crop: common_pb2.RawImage) -> np.ndarray:
    return np.frombuffer(crop.rgb, np.uint8).reshape(crop.height, crop.width, 3)


@dataclass(frozen=True)
class ModelPeer:
    """One served model of ours against MLServer serving the same ONNX file."""

    benchmark: str
    model: str     # our model name, also MLServer's
    service: str   # the XCloud service serving it
    margin: Callable[[], float]  # its framing inside the gateway's crop, and its side
    side: int
    served: Callable[[grpc.aio.Channel, Iterator[common_pb2.RawImage]], Request]

    def view(self, crop: common_pb2.RawImage) -> np.ndarray:
        """The model's (1, 3, side, side) float32 input for ``crop``, as the service cuts it."""
        frame = reframe(pixels(crop), SHARED_CROP_MARGIN, self.margin(), self.side)
        return frame.transpose(2, 0, 1)[None].astype(np.float32)


def _classify(channel: grpc.aio.Channel, crops: Iterator[common_pb2.RawImage]) -> Request:
    stub = expression_pb2_grpc.ExpressionStub(channel)
    return lambda: stub.Classify(expression_pb2.ExpressionRequest(face=next(crops)),
                                 timeout=TIMEOUT_S)


def _predict(channel: grpc.aio.Channel, crops: Iterator[common_pb2.RawImage]) -> Request:
    stub = face_attributes_pb2_grpc.FaceAttributesStub(channel)
    return lambda: stub.Predict(face_attributes_pb2.FaceAttributesRequest(
        face=next(crops), with_embedding=True), timeout=TIMEOUT_S)


PEERS = {
    "mlserver_expression": ModelPeer("mlserver_expression", names.FACEAPI_EXPRESSION, "expression",
                                     lambda: ExpressionSettings().margin, 112, _classify),
    "mlserver_trunk": ModelPeer("mlserver_trunk", TRUNK, "face_attributes",
                                lambda: HEAD_FRAMING.margin, HEAD_FRAMING.size, _predict),
}


async def against_mlserver(peer: ModelPeer, testbed: Testbed,
                           profile: Profile) -> list[Row | Skipped | Sweep]:
    if mlserver.executable() is None:
        return [Skipped(peer.benchmark, "c=16", f"MLServer is not installed ({mlserver.VENV}: "
                                                "make mlserver-venv)")]
    crops = await face_crops(testbed)
    views = [peer.view(c) for c in crops]
    ours = await testbed.service(peer.service)
    budget = testbed.thread_budget(peer.service)
    stock, budgeted = await asyncio.gather(testbed.mlserver(peer.model),
                                           testbed.mlserver(peer.model, **budget))
    tuned = "MLServer, our budget"
    async with (grpc.aio.insecure_channel(ours.address) as to_ours,
                grpc.aio.insecure_channel(stock) as to_stock,
                grpc.aio.insecure_channel(budgeted) as to_budgeted):
        systems = [System("xcloud", peer.served(to_ours, itertools.cycle(crops))),
                   *(System(name, mlserver.infer(channel, peer.model, itertools.cycle(views),
                                                 TIMEOUT_S))
                     for name, channel in (("MLServer", to_stock), (tuned, to_budgeted)))]
        plot, found = await sweep(peer.benchmark, f"{peer.model}: XCloud vs MLServer 1.7.1",
                                  systems, testbed, profile)
    at = found[HEADLINE]
    return [compare(peer.benchmark, "c=16", at["xcloud"], at["MLServer"], "req/s"),
            compare(peer.benchmark, "c=16 p99", at["xcloud"], at["MLServer"], "p99"),
            compare(peer.benchmark, "c=16 vs our threads", at["xcloud"], at[tuned], "req/s"),
            plot]


async def mlserver_expression(testbed: Testbed, profile: Profile) -> list[Row | Skipped | Sweep]:
    return await against_mlserver(PEERS["mlserver_expression"], testbed, profile)


async def mlserver_trunk(testbed: Testbed, profile: Profile) -> list[Row | Skipped | Sweep]:
    return await against_mlserver(PEERS["mlserver_trunk"], testbed, profile)
