"""Result cache: one small store interface, an in-process LRU and Redis behind it.

Values are serialized protobuf (never pickle: a shared Redis must not be a code-execution
path). Keys hash the image bytes with the task, the backend's model versions and the options
that shape the answer, so a new model version or other options never return a stale answer.
The cache is an optimisation only: when Redis is down or slow every request bypasses it and
still succeeds; the failure is counted and logged once until Redis has recovered.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import redis.asyncio
from google.protobuf.message import DecodeError
from prometheus_client import Counter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
T = TypeVar("T")
KEY_PREFIX = "xcloud:gateway:v2"  # v2: values are CacheEntry envelopes (gateway/cached.py)
# The in-process LRU is bounded in bytes as well as entries: one detection entry carries every
# aligned crop (hundreds of KB), so 2,048 of them could hold gigabytes.
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
STORE_ERRORS = (RedisError, OSError, asyncio.TimeoutError)

CACHE_REQUESTS = Counter(
    "xcloud_gateway_cache_requests_total",
    "Result cache lookups by outcome: hit, miss, or bypass (cache down, or key unknown).",
    ["task", "result"],
)
CACHE_ERRORS = Counter(
    "xcloud_gateway_cache_errors_total", "Cache operations that failed (the request went on)."
)
SHARED_RESULTS = Counter(
    "xcloud_gateway_singleflight_shared_total",
    "Requests answered by joining an identical request already in flight.", ["task"],
)


def cache_key(task: str, image_digest: bytes, version: str, options: bytes,
              state: bytes = b"") -> str:
    """Deterministic key; parts are length-prefixed so no two part lists collide. ``state``:
    what the backend's answer depends on besides image, models and options (tasks.StateKey)."""
    digest = hashlib.sha256()
    for part in (image_digest, task.encode(), version.encode(), options, state):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f"{KEY_PREFIX}:{task}:{digest.hexdigest()}"


class Store(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...
    async def close(self) -> None: ...


class MemoryStore:
    """In-process LRU with a TTL per entry, at most ``max_entries`` and ``max_bytes`` of values:
    the default on one machine. A value larger than ``max_bytes`` is not kept."""

    def __init__(self, max_entries: int, max_bytes: int = DEFAULT_MAX_BYTES):
        self._max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self._drop(key)
        if len(value) > self.max_bytes:
            return
        self._entries[key] = (time.monotonic() + ttl_s, value)
        self.bytes += len(value)
        while len(self._entries) > self._max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= len(entry[1])

    async def close(self) -> None:
        self._entries.clear()
        self.bytes = 0


class RedisStore:
    """Redis shared by every gateway replica; no client-side retries, the cache is optional."""

    def __init__(self, url: str, timeout_s: float):
        self._timeout_s = timeout_s
        self._client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )

    async def get(self, key: str) -> bytes | None:
        return await asyncio.wait_for(self._client.get(key), self._timeout_s * 2)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        ttl_ms = max(1, int(ttl_s * 1000))
        await asyncio.wait_for(self._client.set(key, value, px=ttl_ms), self._timeout_s * 2)

    async def close(self) -> None:
        await self._client.aclose()


class ResultCache:
    """A store plus the bypass policy, metrics and the once-per-outage warning."""

    def __init__(self, store: Store, ttl_s: float, retry_after_s: float = 0.0):
        self.store = store
        self._ttl_s = ttl_s
        self._retry_after_s = retry_after_s
        self._healthy = True
        self._retry_at = 0.0

    async def get(self, task: str, key: str, parse: Callable[[bytes], T] | None = None):
        """The stored value (parsed by ``parse`` when given), or None on a miss. A value that
        does not parse (a corrupt or foreign entry in a shared Redis) counts as a miss: the
        call recomputes and overwrites it instead of failing."""
        if not self._usable():
            CACHE_REQUESTS.labels(task, "bypass").inc()
            return None
        try:
            value = await self.store.get(key)
        except STORE_ERRORS as exc:
            self._failed(exc)
            CACHE_REQUESTS.labels(task, "bypass").inc()
            return None
        self._succeeded()
        if value is not None and parse is not None:
            value = _parsed(parse, value, key)
        CACHE_REQUESTS.labels(task, "miss" if value is None else "hit").inc()
        return value

    async def put(self, key: str, value: bytes) -> None:
        if not self._usable():
            return
        try:
            await self.store.set(key, value, self._ttl_s)
        except STORE_ERRORS as exc:
            self._failed(exc)
        else:
            self._succeeded()

    @staticmethod
    def bypass(task: str) -> None:
        """Count a lookup skipped because its key could not be formed."""
        CACHE_REQUESTS.labels(task, "bypass").inc()

    def _usable(self) -> bool:
        # After a failure the store is left alone for a while: a dead Redis would otherwise
        # cost every request a connect timeout.
        return self._healthy or time.monotonic() >= self._retry_at

    def _failed(self, exc: BaseException) -> None:
        CACHE_ERRORS.inc()
        self._retry_at = time.monotonic() + self._retry_after_s
        if self._healthy:
            self._healthy = False
            log.warning("result cache unavailable, requests bypass it until it recovers: %r", exc)

    def _succeeded(self) -> None:
        if not self._healthy:
            self._healthy = True
            log.info("result cache recovered")

    async def close(self) -> None:
        await self.store.close()


def _parsed(parse: Callable[[bytes], T], value: bytes, key: str) -> T | None:
    try:
        return parse(value)
    except (DecodeError, ValueError, TypeError) as exc:  # a corrupt or foreign value
        CACHE_ERRORS.inc()
        log.warning("cache entry ...%s is unreadable, treated as a miss: %s", key[-16:],
                    type(exc).__name__)
        return None


class SingleFlight:
    """Concurrent calls with one key share one run of the work.

    The work runs in its own task, so a caller that goes away (cancelled RPC) does not
    cancel it for the others still waiting.
    """

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task] = {}

    async def run(self, key: str, work: Callable[[], Awaitable[T]],
                  on_join: Callable[[], None] | None = None) -> tuple[T, bool]:
        """Return (result, shared): shared is True when another call's run answered.

        ``on_join`` is called as soon as a call joins a run already in flight.
        """
        task = self._running.get(key)
        shared = task is not None
        if shared and on_join is not None:
            on_join()
        if task is None:
            task = asyncio.ensure_future(work())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task), shared

    def _finished(self, key: str, task: asyncio.Task) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here, so an unawaited failure is not reported twice


def make_cache(redis_url: str | None, ttl_s: float, max_entries: int,
               timeout_s: float, retry_after_s: float,
               max_bytes: int = DEFAULT_MAX_BYTES) -> ResultCache:
    store: Store = (RedisStore(redis_url, timeout_s) if redis_url
                    else MemoryStore(max_entries, max_bytes))
    return ResultCache(store, ttl_s, retry_after_s)
