"""Per-face tasks once detection has answered: the crops, and one call per backend.

The batched tasks (TaskSpec.batched) that name one FaceCall share ONE backend call carrying
every face's crop, however many tasks and faces there are. Each task keeps its own cache entry
(keyed on the detection answer it consumed, the backend's model versions and its options): a
call asks only for the tasks that missed, and concurrent identical calls share one flight.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import grpc
from google.protobuf.message import Message

from gateway import crops
from gateway.cache import ResultCache
from gateway.cached import CachedCalls, CallKey
from gateway.clients import BackendError, Backends
from gateway.converters import grpc_code, task_status
from gateway.outcomes import Job, Outcome, failed, needs_detection, succeeded
from gateway.settings import GatewaySettings
from gateway.tasks import TaskSpec, model_of
from services.runtime import tracing
from xcloud.v1 import common_pb2, gateway_pb2

Refetch = Callable[[], Awaitable[Sequence[common_pb2.Face]]]


class FaceSource:
    """The aligned crops of one Analyze call's faces. A detection answer from the cache keeps
    no crops the caller did not ask for, so then one uncached Detect (``refetch``) makes them
    again, once per call, and only when some per-face answer was not cached."""

    def __init__(self, faces: Sequence[common_pb2.Face], refetch: Refetch):
        self._faces = list(faces)
        self._refetch = refetch
        self._fresh: asyncio.Task | None = None

    async def crops(self, limit: int, side: int) -> list[common_pb2.RawImage]:
        faces = self._faces[:limit]
        if any(not f.HasField("aligned") or f.aligned.width < side for f in faces):
            if self._fresh is None:
                self._fresh = asyncio.ensure_future(self._refetch())
            fresh = list(await asyncio.shield(self._fresh))
            if len(fresh) != len(self._faces):
                raise BackendError("detection", grpc.StatusCode.ABORTED,
                                   f"detection found {len(fresh)} faces where its cached answer "
                                   f"had {len(self._faces)}; retry with options.no_cache")
            faces = fresh[:limit]
        return [crops.of_face(face, side) for face in faces]


class FaceCalls:
    """Runs the batched per-face tasks of one FaceCall for one Analyze call."""

    def __init__(self, settings: GatewaySettings, cached: CachedCalls, backends: Backends):
        self._settings = settings
        self._cached = cached
        self._backends = backends

    async def run(self, job: Job, specs: list[TaskSpec], detection: Outcome,
                  source: FaceSource) -> dict[str, Outcome]:
        names = [s.name for s in specs]
        with tracing.span("task " + "+".join(names), {"xcloud.task": names}):
            return await self._run(job, specs, detection, source)

    async def _run(self, job: Job, specs: list[TaskSpec], detection: Outcome,
                   source: FaceSource) -> dict[str, Outcome]:
        if not detection.ok:
            return {s.name: needs_detection(s.name, detection) for s in specs}
        total = len(detection.fragment.faces)
        limit = min(total, self._settings.max_faces)
        keys = await self._keys(job, specs, detection, limit)
        found = await self._lookups(job, specs, keys)
        missing = [s for s in specs if s.name not in found]
        if missing:
            found.update(await self._computed(job, missing, keys, source, limit, total))
        return found

    async def _keys(self, job: Job, specs: list[TaskSpec], detection: Outcome,
                    limit: int) -> dict[str, str] | None:
        """Each task's key, or None when no key can be formed (the cache is bypassed)."""
        if detection.key is None:
            return None
        # Keyed on the detection result it consumes, which itself keys the image and options.
        prefix = f"{detection.key}|{limit}|".encode()
        calls = [CallKey(s.name, s.backend, job.digest, prefix + s.options_key(job.request.options))
                 for s in specs]
        keys = await self._cached.keys(calls, job.deadline)
        return None if keys is None else dict(zip((s.name for s in specs), keys))

    async def _lookups(self, job: Job, specs: list[TaskSpec],
                       keys: dict[str, str] | None) -> dict[str, Outcome]:
        if keys is None or job.request.options.no_cache:
            for spec in specs:
                ResultCache.bypass(spec.name)
            return {}
        hits = await asyncio.gather(*(self._cached.lookup(s.name, keys[s.name]) for s in specs))
        return {s.name: hit for s, hit in zip(specs, hits) if hit is not None}

    async def _computed(self, job: Job, specs: list[TaskSpec], keys: dict[str, str] | None,
                        source: FaceSource, limit: int, total: int) -> dict[str, Outcome]:
        async def work() -> dict[str, Outcome]:
            return await self._call_and_store(job, specs, keys, source, limit, total)

        if keys is None:
            return await work()
        names = [s.name for s in specs]
        return await self._cached.shared([keys[n] for n in names], job.request.options.no_cache,
                                         names, work)

    async def _call_and_store(self, job: Job, specs: list[TaskSpec], keys: dict[str, str] | None,
                              source: FaceSource, limit: int, total: int) -> dict[str, Outcome]:
        try:
            response = await self._call(job, specs, source, limit)
        except BackendError as error:  # every task of the call says why
            return {s.name: failed(s.name, error) for s in specs}
        outcomes = {s.name: batched_outcome(s, response, limit, total) for s in specs}
        if keys is not None:
            for name, outcome in outcomes.items():
                outcomes[name] = await self._cached.store(keys[name], outcome)
        return outcomes

    async def _call(self, job: Job, specs: list[TaskSpec], source: FaceSource,
                    limit: int) -> Message | None:
        """The one backend call for every face and task; None when there is no face."""
        if limit == 0:
            return None
        face_crops = await source.crops(limit, max(s.aligned_size for s in specs))
        tasks = frozenset(s.name for s in specs)
        client = self._backends.require(specs[0].backend)
        return await specs[0].batched.call.call(client, face_crops, job.request.options, tasks,
                                                job.deadline, job.metadata)


def batched_outcome(spec: TaskSpec, response: Message | None, limit: int, total: int) -> Outcome:
    """One task's share of a batched call: its answer per face, merged into its fragment."""
    fragment = gateway_pb2.AnalyzeResponse(faces=[gateway_pb2.FaceAnalysis() for _ in range(total)])
    if response is None:
        return succeeded(spec.name, fragment, common_pb2.ModelInfo())
    failure = spec.batched.failure(response)
    if failure is not None:
        return Outcome(task_status(spec.name, grpc_code(failure), failure.message, failure.model))
    answers = spec.batched.answers(response)
    if len(answers) != limit:
        message = f"{spec.backend} answered {len(answers)} of {limit} faces"
        return Outcome(task_status(spec.name, grpc.StatusCode.INTERNAL, message))
    for target, answer in zip(fragment.faces, answers):
        spec.merge(target, answer)
    note = f"ran on the first {limit} of {total} faces" if limit < total else ""
    return succeeded(spec.name, fragment, spec.batched.model(response), note)


def per_face_outcome(spec: TaskSpec, results: list, total: int) -> Outcome:
    """A task called once per face (not batched): each face's answer or failure."""
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
    return succeeded(spec.name, fragment, model or common_pb2.ModelInfo(), note)

