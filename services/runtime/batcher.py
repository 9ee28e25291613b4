"""Dynamic batching: concurrent requests to one model are run together.

Each request is a block of rows (an array whose first axis is the batch axis). The batcher
takes the first waiting request, then keeps adding requests whose rows have the same shape
until ``max_batch_size`` rows are gathered or ``max_delay`` has passed since the first one
arrived. The batch runs in an executor thread (never on the event loop) and every waiter gets
its own slice of the outputs, or the batch's error. Requests whose deadline has passed are
dropped before inference: nobody is waiting for them any more.

A batch serves many calls, so it runs outside every caller's trace; each request keeps the
wall-clock bounds of its queue wait and of the run it was part of, and its caller records
them as its own "queue wait" and "inference" spans once the answer is back.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from services.runtime import metrics, tracing
from services.runtime.errors import DeadlineExpired, NotReady, Overloaded

log = logging.getLogger(__name__)
RunBatch = Callable[[np.ndarray], Sequence[np.ndarray]]


@dataclass(frozen=True)
class BatchPolicy:
    max_batch_size: int = 16
    max_delay_s: float = 0.002
    max_queue_size: int = 256
    concurrent_batches: int = 2
    enabled: bool = True


@dataclass
class _Request:
    rows: np.ndarray
    deadline: float | None  # loop.time() after which the caller has given up
    enqueued: float = field(default_factory=time.perf_counter)
    enqueued_ns: int = field(default_factory=time.time_ns)  # wall clock, for trace spans
    ran: tuple[int, int, int] | None = None  # (start_ns, end_ns, rows) of its inference run
    future: asyncio.Future = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())

    def fits(self, other: _Request) -> bool:
        return self.rows.shape[1:] == other.rows.shape[1:] and self.rows.dtype == other.rows.dtype


class DynamicBatcher:
    def __init__(self, run_batch: RunBatch, executor: Executor, policy: BatchPolicy,
                 model: str = "", version: str = ""):
        self._run_batch = run_batch
        self._executor = executor
        self._policy = policy
        self._labels = (model, version)
        self._queue: asyncio.Queue[_Request] = asyncio.Queue(maxsize=policy.max_queue_size)
        self._held: collections.deque[_Request] = collections.deque()
        self._slots = asyncio.Semaphore(policy.concurrent_batches)
        self._loop_task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    def start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._collect_forever())

    async def stop(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        await asyncio.gather(*self._running, return_exceptions=True)
        for request in [*self._held, *_drain(self._queue)]:
            if not request.future.done():
                request.future.set_exception(NotReady("service is shutting down; retry elsewhere"))

    async def submit(self, rows: np.ndarray, deadline: float | None = None) -> list[np.ndarray]:
        """Run ``rows`` (batch axis first) through the model; returns the outputs for these rows."""
        if self._loop_task is None or self._loop_task.done():
            raise NotReady("batcher is not running")
        request = _Request(rows=rows, deadline=deadline)
        try:
            self._queue.put_nowait(request)
        except asyncio.QueueFull:
            raise Overloaded(
                f"model {self._labels[0]} has {self._policy.max_queue_size} requests queued; "
                "retry later"
            ) from None
        metrics.QUEUE_DEPTH.labels(*self._labels).set(self._queue.qsize())
        try:
            return await request.future
        finally:
            self._trace(request)

    def _trace(self, request: _Request) -> None:
        """The request's queue wait and inference run as spans of the caller's trace."""
        attributes = {"xcloud.model": self._labels[0], "xcloud.model_version": self._labels[1],
                      "xcloud.rows": len(request.rows)}
        if request.ran is None:  # dropped, failed or shut down before it ran
            tracing.record_span("queue wait", request.enqueued_ns, time.time_ns(), attributes)
            return
        start_ns, end_ns, batch_rows = request.ran
        tracing.record_span("queue wait", request.enqueued_ns, start_ns, attributes)
        tracing.record_span("inference", start_ns, end_ns,
                            {**attributes, "xcloud.batch_rows": batch_rows})

    async def _collect_forever(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                batch = await self._collect_batch()
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.get_running_loop().create_task(self._dispatch(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _collect_batch(self) -> list[_Request]:
        first = self._held.popleft() if self._held else await self._queue.get()
        batch, rows = [first], len(first.rows)
        if not self._policy.enabled:
            return batch
        loop = asyncio.get_running_loop()
        close_at = loop.time() + self._policy.max_delay_s
        while rows < self._policy.max_batch_size:
            nxt = await self._next_within(close_at - loop.time())
            if nxt is None:
                break
            if not nxt.fits(first) or rows + len(nxt.rows) > self._policy.max_batch_size:
                self._held.append(nxt)  # starts the next batch instead
                break
            batch.append(nxt)
            rows += len(nxt.rows)
        return batch

    async def _next_within(self, timeout: float) -> _Request | None:
        if not self._queue.empty():
            return self._queue.get_nowait()
        if timeout <= 0:
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def _dispatch(self, batch: list[_Request]) -> None:
        try:
            metrics.QUEUE_DEPTH.labels(*self._labels).set(self._queue.qsize())
            live = self._drop_abandoned(batch)
            if live:
                await self._run(live)
        finally:
            self._slots.release()

    def _drop_abandoned(self, batch: list[_Request]) -> list[_Request]:
        now, live = asyncio.get_running_loop().time(), []
        for request in batch:
            if request.future.done():  # the caller was cancelled
                continue
            if request.deadline is not None and request.deadline <= now:
                request.future.set_exception(DeadlineExpired("deadline passed while queued"))
                continue
            live.append(request)
        return live

    async def _run(self, batch: list[_Request]) -> None:
        started, started_ns = time.perf_counter(), time.time_ns()
        for request in batch:
            metrics.STAGE_LATENCY["queue"].labels(*self._labels).observe(started - request.enqueued)
        inputs = batch[0].rows if len(batch) == 1 else np.concatenate([r.rows for r in batch])
        metrics.BATCH_SIZE.labels(*self._labels).observe(len(inputs))
        try:
            with metrics.timed_stage("inference", *self._labels):
                loop = asyncio.get_running_loop()
                outputs = await loop.run_in_executor(self._executor, self._run_batch, inputs)
        except Exception as exc:  # every waiter learns of the failure
            log.exception("inference failed for %s", self._labels[0])
            _ran(batch, started_ns, len(inputs))
            _fail_all(batch, exc)
            return
        _ran(batch, started_ns, len(inputs))
        _fan_out(batch, outputs)


def _ran(batch: list[_Request], started_ns: int, rows: int) -> None:
    ended_ns = time.time_ns()
    for request in batch:
        request.ran = (started_ns, ended_ns, rows)


def _fan_out(batch: list[_Request], outputs: Sequence[np.ndarray]) -> None:
    start = 0
    for request in batch:
        stop = start + len(request.rows)
        if not request.future.done():
            request.future.set_result([output[start:stop] for output in outputs])
        start = stop


def _fail_all(batch: list[_Request], exc: Exception) -> None:
    for request in batch:
        if not request.future.done():
            request.future.set_exception(exc)


def _drain(queue: asyncio.Queue) -> list[_Request]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
