"""The dynamic batcher: batching, fan-out of results and errors, deadlines, back-pressure."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from services.runtime.batcher import BatchPolicy, DynamicBatcher
from services.runtime.errors import DeadlineExpired, Overloaded


class RecordingModel:
    """Doubles its input and records every batch it was run on."""

    def __init__(self, gate: threading.Event | None = None):
        self.batches: list[int] = []
        self.gate = gate

    def __call__(self, rows: np.ndarray) -> list[np.ndarray]:
        if self.gate is not None:
            self.gate.wait(5)
        self.batches.append(len(rows))
        return [rows * 2, rows.sum(axis=1)]


@pytest.fixture
def executor():
    with ThreadPoolExecutor(2) as pool:
        yield pool


async def started(model, executor, **policy) -> DynamicBatcher:
    batcher = DynamicBatcher(model, executor, BatchPolicy(**policy), "test", "1")
    batcher.start()
    return batcher


async def test_concurrent_requests_share_batches_and_get_their_own_rows(executor):
    model = RecordingModel()
    batcher = await started(model, executor, max_batch_size=8, max_delay_s=0.05,
                            concurrent_batches=1)
    inputs = [np.full((1, 3), i, np.float32) for i in range(8)]
    outputs = await asyncio.gather(*(batcher.submit(x) for x in inputs))
    await batcher.stop()
    for i, (doubled, summed) in enumerate(outputs):
        np.testing.assert_array_equal(doubled, np.full((1, 3), 2 * i))
        np.testing.assert_array_equal(summed, [3 * i])
    assert sum(model.batches) == 8 and max(model.batches) > 1


async def test_batching_disabled_runs_each_request_alone(executor):
    model = RecordingModel()
    batcher = await started(model, executor, enabled=False)
    await asyncio.gather(*(batcher.submit(np.ones((2, 3), np.float32)) for _ in range(5)))
    await batcher.stop()
    assert model.batches == [2] * 5


async def test_rows_of_different_shapes_never_share_a_batch(executor):
    model = RecordingModel()
    batcher = await started(model, executor, max_batch_size=16, max_delay_s=0.05,
                            concurrent_batches=1)
    small, large = np.ones((1, 3), np.float32), np.ones((1, 5), np.float32)
    results = await asyncio.gather(*(batcher.submit(x) for x in [small, large, small, large]))
    await batcher.stop()
    assert [r[0].shape for r in results] == [(1, 3), (1, 5), (1, 3), (1, 5)]


async def test_batch_never_exceeds_max_batch_size(executor):
    model = RecordingModel()
    batcher = await started(model, executor, max_batch_size=4, max_delay_s=0.05)
    await asyncio.gather(*(batcher.submit(np.ones((1, 2), np.float32)) for _ in range(13)))
    await batcher.stop()
    assert max(model.batches) <= 4 and sum(model.batches) == 13


async def test_an_inference_error_reaches_every_waiter(executor):
    def broken(rows):
        raise ValueError("bad kernel")

    batcher = await started(broken, executor, max_delay_s=0.02)
    results = await asyncio.gather(
        *(batcher.submit(np.ones((1, 2), np.float32)) for _ in range(3)), return_exceptions=True
    )
    await batcher.stop()
    assert all(isinstance(r, ValueError) for r in results)


async def test_expired_requests_are_dropped_before_inference(executor):
    gate = threading.Event()
    model = RecordingModel(gate)
    batcher = await started(model, executor, enabled=False, concurrent_batches=1)
    blocker = asyncio.ensure_future(batcher.submit(np.ones((1, 2), np.float32)))
    await asyncio.sleep(0.05)  # the blocker now holds the only slot
    past = asyncio.get_running_loop().time() - 1
    expired = asyncio.ensure_future(batcher.submit(np.ones((1, 2), np.float32), deadline=past))
    await asyncio.sleep(0.05)
    gate.set()
    await blocker
    with pytest.raises(DeadlineExpired):
        await expired
    await batcher.stop()
    assert model.batches == [1]


async def test_full_queue_refuses_with_overloaded(executor):
    gate = threading.Event()
    batcher = await started(RecordingModel(gate), executor, enabled=False,
                            concurrent_batches=1, max_queue_size=2)
    # one request runs (blocked on the gate), two wait in the queue: the queue is now full
    pending = []
    for _ in range(3):
        pending.append(asyncio.ensure_future(batcher.submit(np.ones((1, 1), np.float32))))
        await asyncio.sleep(0.02)
    with pytest.raises(Overloaded, match="retry later"):
        await batcher.submit(np.ones((1, 1), np.float32))
    gate.set()
    await asyncio.gather(*pending)
    await batcher.stop()
