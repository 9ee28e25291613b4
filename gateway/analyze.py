"""Transport-free orchestration of one Analyze call.

Detection runs once (asking for aligned crops when a per-face task needs them), per-face
tasks fan out over the faces in parallel once it is done, whole-image tasks run in parallel
with it. Each task goes through the result cache and single-flight. A failing task yields a
partial answer carrying its status; only input that detection rejects as the caller's fault
(INVALID_ARGUMENT, RESOURCE_EXHAUSTED) fails the whole call, with the backend's own status.
"""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from prometheus_client import Counter

from gateway import crops
from gateway.auth import DEFAULT_TENANT, TENANT_HEADER
from gateway.cache import SHARED_RESULTS, ResultCache, SingleFlight, cache_key
from gateway.clients import BackendClient, BackendError, Backends, Deadline, Metadata
from gateway.converters import code_name, grpc_code, task_status
from gateway.settings import GatewaySettings
from gateway.tasks import Scope, TaskRegistry, TaskSpec, model_of
from gateway.versions import ModelVersions
from services.runtime.alignment import SHARED_CROP_MARGIN
from services.runtime.errors import InvalidInput, TooLarge, XCloudError
from services.runtime.interceptors import REQUEST_ID_KEY
from xcloud.v1 import common_pb2, gateway_pb2

WHOLE_REQUEST_CODES = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
HASH_OFF_LOOP_BYTES = 1 << 20  # hashing larger images would stall the event loop
T = TypeVar("T")
TASKS_TOTAL = Counter(
    "xcloud_gateway_tasks_total", "Tasks answered inside Analyze calls, by status code.",
    ["task", "code"],
)


@dataclass(frozen=True)
class Outcome:
    """What one task contributes: its status and the part of the answer it fills."""

    status: common_pb2.TaskStatus
    fragment: gateway_pb2.AnalyzeResponse | None = None
    detail: str = ""          # the backend's own message, for whole-call failures
    key: str | None = None    # cache key the result lives under (per-face keys build on it)

    @property
    def ok(self) -> bool:
        return self.status.code == common_pb2.STATUS_CODE_OK


@dataclass(frozen=True)
class _Job:
    request: gateway_pb2.AnalyzeRequest
    deadline: Deadline
    metadata: Metadata
    digest: bytes


Compute = Callable[[], Awaitable[Outcome]]


class Analyzer:
    def __init__(self, settings: GatewaySettings, registry: TaskRegistry, backends: Backends,
                 cache: ResultCache, versions: ModelVersions):
        self._settings = settings
        self._registry = registry
        self._backends = backends
        self._cache = cache
        self._versions = versions
        self._flights = SingleFlight()

    async def analyze(self, request: gateway_pb2.AnalyzeRequest, deadline: Deadline,
                      request_id: str, tenant: str = DEFAULT_TENANT) -> gateway_pb2.AnalyzeResponse:
        self._validate(request)
        specs = self._registry.resolve(request.tasks, self._settings.backends)
        metadata = ((REQUEST_ID_KEY, request_id), (TENANT_HEADER, tenant))
        job = _Job(request, deadline, metadata, await _digest(request.image.content))
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

    async def _run_face_tasks(self, job: _Job, specs: list[TaskSpec]
                              ) -> tuple[dict[str, Outcome], Outcome | None]:
        per_face = [s for s in specs if s.scope is Scope.PER_FACE]
        detection_spec = self._registry.detection()
        if detection_spec is None or not (per_face or detection_spec in specs):
            return {}, None
        detection = await self._run_detection(job, detection_spec, per_face)
        if grpc_code(detection.status) in WHOLE_REQUEST_CODES:
            raise XCloudError(detection.detail, grpc_code(detection.status))
        results = await asyncio.gather(*(self._run_per_face(job, s, detection) for s in per_face))
        outcomes = dict(zip((s.name for s in per_face), results))
        outcomes[detection_spec.name] = detection
        return outcomes, detection

    async def _run_detection(self, job: _Job, spec: TaskSpec, per_face: list[TaskSpec]) -> Outcome:
        options = gateway_pb2.AnalyzeOptions()
        options.CopyFrom(job.request.options)
        # One detection serves every consumer: crops at the largest side anyone asked for.
        sides = [s.aligned_size for s in per_face] + [options.detection.aligned_size]
        options.detection.aligned_size = max(sides)
        if per_face:  # every per-face service cuts its own view out of this one framing
            options.detection.aligned_margin = SHARED_CROP_MARGIN

        async def compute() -> Outcome:
            response = await self._call(spec, job.request.image, options, job)
            fragment = gateway_pb2.AnalyzeResponse(
                faces=[gateway_pb2.FaceAnalysis(face=face) for face in response.faces],
                image_width=response.image_width, image_height=response.image_height,
            )
            return _succeeded(spec, fragment, model_of(response))

        return await self._cached(spec, job, spec.options_key(options), compute)

    async def _run_per_face(self, job: _Job, spec: TaskSpec, detection: Outcome) -> Outcome:
        if not detection.ok:
            message = f"needs detection, which failed: {detection.status.message}"
            return Outcome(_copy_status(detection.status, spec.name, message))
        faces = list(detection.fragment.faces)
        limit = min(len(faces), self._settings.max_faces)

        async def compute() -> Outcome:
            calls = [self._call(spec, _crop(f.face, spec.aligned_size), job.request.options, job)
                     for f in faces[:limit]]
            results = await asyncio.gather(*calls, return_exceptions=True)
            return _per_face_outcome(spec, results, len(faces))

        # Keyed on the detection result it consumes, which itself keys the image and options.
        options = f"{detection.key}|{limit}|".encode() + spec.options_key(job.request.options)
        return await self._cached(spec, job, options, compute, usable=detection.key is not None)

    async def _run_whole(self, job: _Job, spec: TaskSpec) -> Outcome:
        async def compute() -> Outcome:
            response = await self._call(spec, job.request.image, job.request.options, job)
            fragment = gateway_pb2.AnalyzeResponse()
            spec.merge(fragment, response)
            return _succeeded(spec, fragment, model_of(response))

        return await self._cached(spec, job, spec.options_key(job.request.options), compute)

    async def _call(self, spec: TaskSpec, payload: Message, options: gateway_pb2.AnalyzeOptions,
                    job: _Job) -> Message:
        return await spec.call(self._client(spec), payload, options, job.deadline, job.metadata)

    def _client(self, spec: TaskSpec) -> BackendClient:
        client = self._backends.get(spec.backend)
        if client is None:
            raise BackendError(spec.backend, grpc.StatusCode.FAILED_PRECONDITION,
                               f"no backend {spec.backend!r} is configured on this gateway")
        return client

    async def _cached(self, spec: TaskSpec, job: _Job, options: bytes, compute: Compute,
                      usable: bool = True) -> Outcome:
        """Answer from the cache, from an identical call in flight, or by computing."""
        state = await _captured(spec, lambda: self._state_of(spec, job))
        if isinstance(state, Outcome):
            return state  # the task cannot run (e.g. no such collection): its status says why
        version = await self._versions.of(spec.backend, job.deadline) if usable else None
        if version is None:
            ResultCache.bypass(spec.name)
            return await _captured(spec, compute)
        key = cache_key(spec.name, job.digest, version, options, state)
        fresh = job.request.options.no_cache
        flight = f"{key}|fresh" if fresh else key
        outcome, _shared = await self._flights.run(
            flight, lambda: self._lookup_or_compute(spec, key, fresh, compute),
            on_join=SHARED_RESULTS.labels(spec.name).inc,
        )
        return outcome

    async def _state_of(self, spec: TaskSpec, job: _Job) -> bytes:
        if spec.state_key is None:
            return b""
        client = self._client(spec)
        return await spec.state_key(client, job.request.options, job.deadline, job.metadata)

    async def _lookup_or_compute(self, spec: TaskSpec, key: str, fresh: bool,
                                 compute: Compute) -> Outcome:
        if fresh:
            ResultCache.bypass(spec.name)
        else:
            value = await self._cache.get(spec.name, key)
            if value is not None:
                return _from_cache(spec.name, value, key)
        outcome = await _captured(spec, compute)
        if not outcome.ok:
            return outcome
        await self._cache.put(key, outcome.fragment.SerializeToString(deterministic=True))
        return Outcome(outcome.status, outcome.fragment, key=key)

    def _merge(self, specs: list[TaskSpec], detection: Outcome | None,
               outcomes: dict[str, Outcome], options: gateway_pb2.AnalyzeOptions
               ) -> gateway_pb2.AnalyzeResponse:
        response = gateway_pb2.AnalyzeResponse()
        if detection is not None and detection.fragment is not None:
            response.MergeFrom(detection.fragment)
            del response.statuses[:]
            _crops_for_caller(response, options.detection.aligned_size)
        for spec in specs:
            outcome = outcomes[spec.name]
            if outcome.fragment is not None and spec.scope is Scope.PER_FACE:
                for target, part in zip(response.faces, outcome.fragment.faces):
                    target.MergeFrom(part)
            elif outcome.fragment is not None and spec.scope is Scope.WHOLE_IMAGE:
                part = gateway_pb2.AnalyzeResponse()
                part.CopyFrom(outcome.fragment)
                del part.statuses[:]
                response.MergeFrom(part)
            response.statuses.append(outcome.status)
            TASKS_TOTAL.labels(spec.name, code_name(outcome.status)).inc()
        return response


async def _captured(spec: TaskSpec, compute: Callable[[], Awaitable[T]]) -> T | Outcome:
    """Run ``compute``; a backend failure becomes this task's status instead of an error."""
    try:
        return await compute()
    except BackendError as exc:
        return Outcome(task_status(spec.name, exc.code, exc.message), detail=exc.details)


def _succeeded(spec: TaskSpec, fragment: gateway_pb2.AnalyzeResponse,
               model: common_pb2.ModelInfo, message: str = "") -> Outcome:
    # The status travels inside the fragment so that a cache hit can report the model.
    status = task_status(spec.name, message=message, model=model)
    fragment.statuses.append(status)
    return Outcome(status, fragment)


def _from_cache(task: str, value: bytes, key: str) -> Outcome:
    fragment = gateway_pb2.AnalyzeResponse.FromString(value)
    status = common_pb2.TaskStatus()
    if fragment.statuses:
        status.CopyFrom(fragment.statuses[0])
    status.task, status.cached = task, True
    return Outcome(status, fragment, key=key)


def _per_face_outcome(spec: TaskSpec, results: list, total: int) -> Outcome:
    fragment = gateway_pb2.AnalyzeResponse(faces=[gateway_pb2.FaceAnalysis() for _ in range(total)])
    failures = [r for r in results if isinstance(r, BaseException)]
    for error in failures:
        if not isinstance(error, BackendError):
            raise error  # a bug, not a backend answer: let the interceptor report it
    for target, result in zip(fragment.faces, results):
        if not isinstance(result, BaseException):
            spec.merge(target, result)
    model = next((model_of(r) for r in results if not isinstance(r, BaseException)), None)
    if failures:
        message = f"{len(failures)} of {len(results)} faces failed: {failures[0].message}"
        return Outcome(task_status(spec.name, failures[0].code, message, model), fragment)
    note = f"ran on the first {len(results)} of {total} faces" if len(results) < total else ""
    return _succeeded(spec, fragment, model or common_pb2.ModelInfo(), note)


def _crop(face: common_pb2.Face, side: int) -> common_pb2.RawImage:
    aligned = face.aligned
    if not face.HasField("aligned") or len(aligned.rgb) != aligned.width * aligned.height * 3:
        raise BackendError("detection", grpc.StatusCode.INTERNAL,
                           "detection returned no usable aligned crop")
    return crops.resized(aligned, side)


def _crops_for_caller(response: gateway_pb2.AnalyzeResponse, side: int) -> None:
    """Crops leave the gateway only when asked for, at the side asked for."""
    for analysis in response.faces:
        if side <= 0 or not analysis.face.HasField("aligned"):
            analysis.face.ClearField("aligned")
        else:
            analysis.face.aligned.CopyFrom(crops.resized(analysis.face.aligned, side))


def _copy_status(status: common_pb2.TaskStatus, task: str, message: str) -> common_pb2.TaskStatus:
    return common_pb2.TaskStatus(task=task, code=status.code, message=message)


async def _digest(content: bytes) -> bytes:
    if len(content) > HASH_OFF_LOOP_BYTES:
        return await asyncio.to_thread(lambda: hashlib.sha256(content).digest())
    return hashlib.sha256(content).digest()
