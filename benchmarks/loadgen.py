"""The load generator behind `xcloud bench`: timed closed and open loops of grpc.aio calls.

- **Closed loop** (fixed concurrency): ``c`` workers each send a call, wait for its answer and
  send the next until the window closes. What a pool of synchronous clients does; the offered
  load adapts to the server, so throughput at saturation is the figure to read.
- **Open loop** (Poisson arrivals at a target rate): calls start at exponentially distributed
  intervals whatever the server does, as independent users would. A call's latency is counted
  from its *scheduled* start, so a client that fell behind does not hide the queueing
  (no coordinated omission).

A failed call is counted by its gRPC status code name (another exception by its type name)
and left out of the latencies; throughput counts answered calls only.

Variants compared side by side take turns in rounds (A B, B A, ...), as ``harness.interleaved``
does for counted rounds, so that the noisy shared machine drifts under every variant alike.
"""
from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc

from benchmarks.harness import Measurement, Request, Sample

MAX_IN_FLIGHT = 4096  # an open loop beyond this many unanswered calls only measures a backlog
OVERFLOW = "CLIENT_OVERFLOW"  # arrivals dropped because MAX_IN_FLIGHT calls were unanswered


@dataclass(frozen=True)
class Load:
    """One load level: ``closed`` with ``level`` workers or ``open`` at ``level`` calls/s."""

    kind: str
    level: float

    def __post_init__(self) -> None:
        if self.kind not in ("closed", "open") or self.level <= 0:
            raise ValueError(f"bad load {self.kind} {self.level}: closed c>0 or open rate>0")

    @property
    def label(self) -> str:
        return f"c={int(self.level)}" if self.kind == "closed" else f"{self.level:g}/s"

    @property
    def concurrency(self) -> int:
        """Workers of a closed loop; 0 for an open loop (unbounded up to MAX_IN_FLIGHT)."""
        return int(self.level) if self.kind == "closed" else 0


class Tally:
    """Latencies of answered calls and failures by code, of one measured window."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: collections.Counter[str] = collections.Counter()

    async def timed(self, request: Request, started: float) -> None:
        """Run one call; ``started`` is when it was due (perf_counter seconds)."""
        try:
            await request()
        except grpc.aio.AioRpcError as exc:
            self.errors[exc.code().name] += 1
        except Exception as exc:  # noqa: BLE001 (a wrong answer, the request checks it, counts)
            self.errors[type(exc).__name__] += 1
        else:
            self.latencies.append(time.perf_counter() - started)

    def sample(self, elapsed: float) -> Sample:
        return Sample(tuple(self.latencies), elapsed, tuple(sorted(self.errors.items())))


async def closed_loop(request: Request, concurrency: int, duration_s: float) -> Sample:
    """``concurrency`` workers calling back to back for ``duration_s`` seconds (calls started
    before the end run to completion and count)."""
    tally = Tally()
    start = time.perf_counter()
    stop_at = start + duration_s

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            await tally.timed(request, time.perf_counter())

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally.sample(time.perf_counter() - start)


async def open_loop(request: Request, rate: float, duration_s: float,
                    rng: random.Random | None = None) -> Sample:
    """Poisson arrivals at ``rate`` calls/s for ``duration_s`` seconds, each call on its own."""
    rng = rng or random.Random(0)
    tally = Tally()
    in_flight: set[asyncio.Task] = set()
    start = time.perf_counter()
    due = start
    while (due := due + rng.expovariate(rate)) < start + duration_s:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if len(in_flight) >= MAX_IN_FLIGHT:
            tally.errors[OVERFLOW] += 1
            continue
        task = asyncio.create_task(tally.timed(request, due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)
    return tally.sample(time.perf_counter() - start)


async def measure(request: Request, load: Load, duration_s: float,
                  rng: random.Random | None = None) -> Sample:
    if load.kind == "closed":
        return await closed_loop(request, load.concurrency, duration_s)
    return await open_loop(request, load.level, duration_s, rng)


async def warm_up(request: Request, load: Load, duration_s: float) -> None:
    """One call alone (connections, sessions), then the load itself, unmeasured."""
    await Tally().timed(request, time.perf_counter())
    if duration_s > 0:
        await measure(request, load, duration_s)


@dataclass(frozen=True)
class System:
    """One system under test: a name in tables and plots, and its call."""

    name: str
    request: Request


@dataclass(frozen=True)
class Sweep:
    """One comparison's measurements at every load, per system: a plot's curves."""

    benchmark: str
    title: str
    points: dict[str, list[tuple[Load, Measurement]]]


# Called after every measured window: (system, load, round, sample); e.g. a progress bar.
Progress = Callable[[str, Load, int, Sample], None]


async def side_by_side(systems: Sequence[System], load: Load, rounds: int, round_s: float,
                       warmup_s: float, progress: Progress | None = None
                       ) -> dict[str, Measurement]:
    """Every system under ``load`` in alternating rounds (order reversed every other round),
    after its own warm-up; keyed by system name."""
    for system in systems:
        await warm_up(system.request, load, warmup_s)
    samples: dict[str, list[Sample]] = {s.name: [] for s in systems}
    rng = random.Random(int(load.level * 1000))  # same arrival pattern for every system
    for number in range(rounds):
        order = systems if number % 2 == 0 else list(reversed(systems))
        seed = rng.random()
        for system in order:
            sample = await measure(system.request, load, round_s, random.Random(seed))
            samples[system.name].append(sample)
            if progress is not None:
                progress(system.name, load, number, sample)
    return {s.name: Measurement(s.name, load.concurrency, tuple(samples[s.name]))
            for s in systems}
