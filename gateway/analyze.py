"""Transport-free orchestration of one Analyze call.

Detection runs once (asking for aligned crops when a per-face task needs them); once it is
done each per-face backend gets ONE call with every face (tasks of one backend share it,
gateway/faces.py), except tasks still called once per face (identify); whole-image tasks run
in parallel with detection. Each task goes through the one cached-call path (gateway/cached.py:
model versions, key, single flight, cache, compute, store). A failing task yields a
partial answer carrying its status; only input that detection rejects as the caller's fault
(INVALID_ARGUMENT, RESOURCE_EXHAUSTED) fails the whole call, with the backend's own status.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from google.protobuf.message import Message
from prometheus_client import Counter

from gateway import crops
from gateway.auth import DEFAULT_TENANT, TENANT_HEADER
from gateway.cached import CachedCalls, CallKey, Keep
from gateway.clients import Backends, Deadline
from gateway.converters import code_name
from gateway.faces import FaceCalls, FaceSource, per_face_outcome
from gateway.outcomes import Compute, Job, Outcome, captured, needs_detection, succeeded
from gateway.settings import GatewaySettings
from gateway.tasks import FaceCall, Scope, TaskRegistry, TaskSpec, model_of
from services.runtime import tracing
from services.runtime.alignment import SHARED_CROP_MARGIN
from services.runtime.errors import InvalidInput, TooLarge
from services.runtime.interceptors import REQUEST_ID_KEY
from xcloud.v1 import common_pb2, gateway_pb2

HASH_OFF_LOOP_BYTES = 1 << 20  # hashing larger images would stall the event loop
TASKS_TOTAL = Counter(
    "xcloud_gateway_tasks_total", "Tasks answered inside Analyze calls, by status code.",
    ["task", "code"],
)


class Analyzer:
    def __init__(self, settings: GatewaySettings, registry: TaskRegistry, backends: Backends,
                 cached: CachedCalls):
        self._settings = settings
        self._registry = registry
        self._backends = backends
        self._cached_calls = cached
        self._face_calls = FaceCalls(settings, cached, backends)

    async def analyze(self, request: gateway_pb2.AnalyzeRequest, deadline: Deadline,
                      request_id: str, tenant: str = DEFAULT_TENANT) -> gateway_pb2.AnalyzeResponse:
        self._validate(request)
        specs = self._registry.resolve(request.tasks, self._settings.backends)
        metadata = ((REQUEST_ID_KEY, request_id), (TENANT_HEADER, tenant))
        job = Job(request, deadline, metadata, await _digest(request.image.content))
        whole = {s.name: asyncio.ensure_future(self._run_whole(job, s))
                 for s in specs if s.scope is Scope.WHOLE_IMAGE}
        try:
            outcomes, detection = await self._run_face_tasks(job, specs)
            outcomes.update(zip(whole, await asyncio.gather(*whole.values())))
        finally:
            for pending in whole.values():
                pending.cancel()  # no-op when done; stops work nobody will read
        response = self._merge(specs, detection, outcomes, request.options)
        response.request_id = request_id
        return response

    def _validate(self, request: gateway_pb2.AnalyzeRequest) -> None:
        # Only cheap checks: decoding is the detection service's job.
        size = len(request.image.content)
        if size == 0:
            raise InvalidInput("image.content is empty")
        if size > self._settings.max_image_bytes:
            raise TooLarge(f"image is {size} bytes; at most {self._settings.max_image_bytes}")

    async def _run_face_tasks(self, job: Job, specs: list[TaskSpec]
                              ) -> tuple[dict[str, Outcome], Outcome | None]:
        per_face = [s for s in specs if s.scope is Scope.PER_FACE]
        detection_spec = self._registry.detection()
        if detection_spec is None or not (per_face or detection_spec in specs):
            return {}, None
        options = _detection_options(job.request.options, per_face)
        detection = await self._run_detection(job, detection_spec, options)
        detection.raise_if_callers_fault()
        source = FaceSource([f.face for f in detection.fragment.faces] if detection.ok else [],
                            lambda: self._detect_again(job, detection_spec, options))
        groups: dict[FaceCall, list[TaskSpec]] = {}
        for spec in (s for s in per_face if s.batched is not None):
            groups.setdefault(spec.batched.call, []).append(spec)
        singles = [s for s in per_face if s.batched is None]
        runs = await asyncio.gather(
            *(self._face_calls.run(job, group, detection, source) for group in groups.values()),
            *(self._run_per_face(job, s, detection, source) for s in singles))
        outcomes = {name: o for found in runs[:len(groups)] for name, o in found.items()}
        outcomes.update(zip((s.name for s in singles), runs[len(groups):]))
        outcomes[detection_spec.name] = detection
        return outcomes, detection

    async def _run_detection(self, job: Job, spec: TaskSpec,
                             options: gateway_pb2.AnalyzeOptions) -> Outcome:
        async def compute() -> Outcome:
            response = await self._call(spec, job.request.image, options, job)
            fragment = gateway_pb2.AnalyzeResponse(
                faces=[gateway_pb2.FaceAnalysis(face=face) for face in response.faces],
                image_width=response.image_width, image_height=response.image_height,
            )
            return succeeded(spec.name, fragment, model_of(response))

        # The entry keeps only the crops the caller asked for (crops.as_stored), so the
        # caller's side keys it too: a caller asking for crops never reads an entry without.
        side = job.request.options.detection.aligned_size
        key = spec.options_key(options) + f"|crops {side}".encode()
        return await self._cached(spec, job, key, compute,
                                  keep=lambda fragment: crops.as_stored(fragment, side))

    async def _detect_again(self, job: Job, spec: TaskSpec,
                            options: gateway_pb2.AnalyzeOptions) -> Sequence[common_pb2.Face]:
        """The crops a cached detection answer does not keep: one uncached Detect."""
        return (await self._call(spec, job.request.image, options, job)).faces

    async def _run_per_face(self, job: Job, spec: TaskSpec, detection: Outcome,
                            source: FaceSource) -> Outcome:
        """A task called once per face (not batched), every face in parallel."""
        if not detection.ok:
            return needs_detection(spec.name, detection)
        total = len(detection.fragment.faces)
        limit = min(total, self._settings.max_faces)

        async def compute() -> Outcome:
            face_crops = await source.crops(limit, spec.aligned_size)
            calls = [self._call(spec, crop, job.request.options, job) for crop in face_crops]
            results = await asyncio.gather(*calls, return_exceptions=True)
            return per_face_outcome(spec, results, total)

        # Keyed on the detection result it consumes, which itself keys the image and options.
        options = f"{detection.key}|{limit}|".encode() + spec.options_key(job.request.options)
        return await self._cached(spec, job, options, compute, usable=detection.key is not None)

    async def _run_whole(self, job: Job, spec: TaskSpec) -> Outcome:
        async def compute() -> Outcome:
            response = await self._call(spec, job.request.image, job.request.options, job)
            fragment = gateway_pb2.AnalyzeResponse()
            spec.merge(fragment, response)
            return succeeded(spec.name, fragment, model_of(response))

        return await self._cached(spec, job, spec.options_key(job.request.options), compute)

    async def _call(self, spec: TaskSpec, payload: Message, options: gateway_pb2.AnalyzeOptions,
                    job: Job) -> Message:
        client = self._backends.require(spec.backend)
        return await spec.call(client, payload, options, job.deadline, job.metadata)

    async def _cached(self, spec: TaskSpec, job: Job, options: bytes, compute: Compute,
                      usable: bool = True, keep: Keep | None = None) -> Outcome:
        """The task's answer through the cached-call path (gateway/cached.py), once its
        backend state is known; ``keep`` makes the cached copy (default: the answer)."""
        with tracing.span(f"task {spec.name}", {"xcloud.task": spec.name}) as span:
            state = await captured(spec.name, lambda: self._state_of(spec, job))
            if isinstance(state, Outcome):
                return state  # the task cannot run (e.g. no such collection): its status says why
            call = CallKey(spec.name, spec.backend, job.digest, options, state)
            outcome = await self._cached_calls.run(call, job.deadline, compute, usable=usable,
                                                   keep=keep, fresh=job.request.options.no_cache)
            span.set_attributes({"xcloud.task.code": code_name(outcome.status),
                                 "xcloud.task.cached": outcome.status.cached})
            return outcome

    async def _state_of(self, spec: TaskSpec, job: Job) -> bytes:
        if spec.state_key is None:
            return b""
        client = self._backends.require(spec.backend)
        return await spec.state_key(client, job.request.options, job.deadline, job.metadata)

    def _merge(self, specs: list[TaskSpec], detection: Outcome | None,
               outcomes: dict[str, Outcome], options: gateway_pb2.AnalyzeOptions
               ) -> gateway_pb2.AnalyzeResponse:
        """Every task's fragment in one answer, then one status per task in request order."""
        response = gateway_pb2.AnalyzeResponse()
        if detection is not None and detection.fragment is not None:
            response.MergeFrom(detection.fragment)
            crops.for_caller(response, options.detection.aligned_size)
        for spec in specs:
            outcome = outcomes[spec.name]
            if outcome.fragment is not None and spec.scope is Scope.PER_FACE:
                for target, part in zip(response.faces, outcome.fragment.faces):
                    target.MergeFrom(part)
            elif outcome.fragment is not None and spec.scope is Scope.WHOLE_IMAGE:
                response.MergeFrom(outcome.fragment)
            response.statuses.append(outcome.status)
            TASKS_TOTAL.labels(spec.name, code_name(outcome.status)).inc()
        return response


def _detection_options(options: gateway_pb2.AnalyzeOptions,
                       per_face: list[TaskSpec]) -> gateway_pb2.AnalyzeOptions:
    """One detection serves every consumer: crops at the largest side anyone asked for."""
    detect = gateway_pb2.AnalyzeOptions()
    detect.CopyFrom(options)
    sides = [s.aligned_size for s in per_face] + [options.detection.aligned_size]
    detect.detection.aligned_size = max(sides)
    if per_face:  # every per-face service cuts its own view out of this one framing
        detect.detection.aligned_margin = SHARED_CROP_MARGIN
    return detect


async def _digest(content: bytes) -> bytes:
    if len(content) > HASH_OFF_LOOP_BYTES:
        return await asyncio.to_thread(lambda: hashlib.sha256(content).digest())
    return hashlib.sha256(content).digest()
