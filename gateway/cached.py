"""One cached backend call: model versions → key → single flight → lookup → compute → store.

Every answer the gateway caches takes this path: the Analyze tasks (gateway/analyze.py), the
batched per-face calls (gateway/faces.py, which uses the steps one by one because one backend
call answers several tasks) and ScoreContent (gateway/content.py).

An entry is a ``CacheEntry`` envelope (protos/xcloud/v1/gateway_cache.proto): the task's status,
which names the model that answered, beside its fragment of the answer. A hit is that status
marked ``cached``; the answer never carries a status of its own.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from google.protobuf.message import Message

from gateway.cache import SHARED_RESULTS, ResultCache, SingleFlight, cache_key
from gateway.clients import Deadline
from gateway.outcomes import Compute, Outcome, captured
from gateway.versions import ModelVersions
from services.runtime import tracing
from xcloud.v1 import gateway_cache_pb2, gateway_pb2

T = TypeVar("T")
Parse = Callable[[bytes], Message]   # a fragment's bytes -> the fragment
Keep = Callable[[Message], Message]  # an answer -> the copy of it the cache keeps
AS_ANALYZE = gateway_pb2.AnalyzeResponse.FromString


@dataclass(frozen=True)
class CallKey:
    """Everything one task's answer depends on besides the backend's model versions."""

    task: str
    backend: str
    digest: bytes         # sha256 of the input (image bytes, content records)
    options: bytes = b""  # the options that shape the answer
    state: bytes = b""    # backend state it depends on (tasks.StateKey)

    def key(self, version: str) -> str:
        return cache_key(self.task, self.digest, version, self.options, self.state)


class CachedCalls:
    """The result cache, the model versions that key it, and the single flights over both."""

    def __init__(self, cache: ResultCache, versions: ModelVersions):
        self._cache = cache
        self._versions = versions
        self._flights = SingleFlight()

    async def run(self, call: CallKey, deadline: Deadline, compute: Compute, *,
                  fresh: bool = False, usable: bool = True, parse: Parse = AS_ANALYZE,
                  keep: Keep | None = None) -> Outcome:
        """Answer from the cache, from an identical call in flight, or by computing (a success
        is stored). ``fresh``: skip the lookup, still store; ``usable=False``: no key can be
        formed, the cache is bypassed."""
        keys = await self.keys([call], deadline) if usable else None
        if keys is None:
            ResultCache.bypass(call.task)
            return await captured(call.task, compute)
        (key,) = keys

        async def work() -> Outcome:
            if fresh:
                ResultCache.bypass(call.task)
            else:
                hit = await self.lookup(call.task, key, parse)
                if hit is not None:
                    return hit
            return await self.store(key, await captured(call.task, compute), keep)

        return await self.shared(keys, fresh, [call.task], work)

    async def keys(self, calls: Sequence[CallKey], deadline: Deadline) -> list[str] | None:
        """The keys of calls to one backend, from one version lookup; None when the backend's
        versions are unknown now (then nothing is cached: a stale answer must not be served)."""
        version = await self._versions.of(calls[0].backend, deadline)
        return None if version is None else [call.key(version) for call in calls]

    async def lookup(self, task: str, key: str, parse: Parse = AS_ANALYZE) -> Outcome | None:
        """The cached outcome, or None on a miss (an unreadable entry is a miss too)."""
        with tracing.span("cache lookup", {"xcloud.task": task}) as span:
            entry = await self._cache.get(task, key, lambda value: _read(value, parse))
            span.set_attribute("xcloud.cache.hit", entry is not None)
        if entry is None:
            return None
        status, fragment = entry
        status.task, status.cached = task, True
        return Outcome(status, fragment, key=key)

    async def store(self, key: str, outcome: Outcome, keep: Keep | None = None) -> Outcome:
        """Store a success under ``key`` (``keep`` makes the stored copy); failures are not."""
        if not outcome.ok:
            return outcome
        kept = keep(outcome.fragment) if keep is not None else outcome.fragment
        entry = gateway_cache_pb2.CacheEntry(
            status=outcome.status, fragment=kept.SerializeToString(deterministic=True))
        await self._cache.put(key, entry.SerializeToString(deterministic=True))
        return replace(outcome, key=key)

    async def shared(self, keys: Sequence[str], fresh: bool, tasks: Sequence[str],
                     work: Callable[[], Awaitable[T]]) -> T:
        """One run of ``work`` for every concurrent call with these keys; a fresh call never
        joins one that may answer from the cache."""
        flight = "|".join(keys) + ("|fresh" if fresh else "")

        def joined() -> None:
            for task in tasks:
                SHARED_RESULTS.labels(task).inc()

        result, _shared = await self._flights.run(flight, work, on_join=joined)
        return result


def _read(value: bytes, parse: Parse):
    entry = gateway_cache_pb2.CacheEntry.FromString(value)
    return entry.status, parse(entry.fragment)
