"""Load generation and side-by-side measurement of variants.

Load is a closed loop: ``concurrency`` workers each send a request, wait for its answer and
send the next, until the round's request count is reached. Throughput is answers per second
of the round's wall time; latency is each call's own wall time, as the caller sees it.

The machine the benchmarks run on is shared and noisy, so figures measured minutes apart
cannot be compared. The variants of one comparison are therefore measured in alternating
rounds, the order reversed every other round (A B, B A, A B, ...), so that drifts in the
machine's load hit every variant alike. A variant's throughput is the median over its rounds;
its percentiles pool every latency of every round; a comparison's ratio is the median of the
per-round ratios (each taken between rounds measured back to back). At concurrency 1 the
variants go further and take turns request by request within each round.
"""
from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

# One call of the system under test; the callable picks its own input.
Request = Callable[[], Awaitable[object]]
FIGURES = ("req/s", "p50", "p95", "p99")


@dataclass(frozen=True)
class Profile:
    """How much load each comparison gets."""

    name: str
    rounds: int           # rounds per variant, interleaved with the other variants' rounds
    per_worker: int       # requests per worker in one round...
    max_requests: int     # ...but at most this many...
    min_requests: int     # ...and at least this many (concurrency 1 needs more)
    warmup: int           # requests per variant, one at a time, before measuring
    max_concurrency: int  # comparisons at a higher concurrency are skipped
    # The timed comparisons (benchmarks/peers.py, load generator benchmarks/loadgen.py): each
    # round lasts round_s seconds after warmup_s seconds of unmeasured load per variant.
    round_s: float = 6.0
    warmup_s: float = 2.0

    def requests(self, concurrency: int) -> int:
        return max(self.min_requests, min(self.per_worker * concurrency, self.max_requests))


# Sized for a 2-core machine shared with other work, where one Detect of the photo mix costs
# 0.2-1 s of CPU: concurrency 32 alone costs as much as everything else together, and --quick
# leaves it out.
PROFILES = {
    "default": Profile("default", rounds=3, per_worker=2, max_requests=32, min_requests=8,
                       warmup=1, max_concurrency=32),
    "quick": Profile("quick", rounds=2, per_worker=1, max_requests=16, min_requests=4,
                     warmup=1, max_concurrency=8, round_s=3.0, warmup_s=1.0),
    # For the test suite: every code path once, figures meaningless.
    "smoke": Profile("smoke", rounds=1, per_worker=0, max_requests=0, min_requests=2,
                     warmup=1, max_concurrency=32, round_s=0.3, warmup_s=0.0),
}


@dataclass(frozen=True)
class Sample:
    """One round of one variant."""

    latencies: tuple[float, ...]  # seconds, in completion order (answered calls only)
    elapsed: float                # wall time of the round, seconds
    # failed calls by status code name (e.g. ("UNAVAILABLE", 3)): not in the latencies
    errors: tuple[tuple[str, int], ...] = ()

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed

    def figure(self, name: str) -> float:
        """req/s, or a latency percentile ("p50", "p95", "p99") in milliseconds."""
        if name == "req/s":
            return self.throughput
        return percentile_ms(self.latencies, float(name[1:]))


def percentile_ms(latencies: Sequence[float], q: float) -> float:
    """The percentile in ms; NaN when no call answered (every one failed)."""
    if not len(latencies):
        return float("nan")
    return float(np.percentile(np.asarray(latencies), q)) * 1000.0


async def closed_loop(request: Request, concurrency: int, total: int) -> Sample:
    """``total`` requests from ``concurrency`` workers, each waiting for its answer."""
    remaining = total
    latencies: list[float] = []

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1  # no await between test and decrement: the loop is single-threaded
            start = time.perf_counter()
            await request()
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(tuple(latencies), time.perf_counter() - start)


@dataclass(frozen=True)
class Variant:
    label: str
    request: Request
    concurrency: int
    # Requests per round when not the profile's for this concurrency: variants compared at
    # different concurrencies send as many requests, hence the same photos, in each round.
    requests: int | None = None

    def round_size(self, profile: Profile) -> int:
        return self.requests or profile.requests(self.concurrency)


@dataclass(frozen=True)
class Measurement:
    label: str
    concurrency: int
    rounds: tuple[Sample, ...]

    @property
    def latencies(self) -> list[float]:
        return [t for sample in self.rounds for t in sample.latencies]

    def figure(self, name: str) -> float:
        if name == "req/s":
            return statistics.median(s.throughput for s in self.rounds)
        return percentile_ms(self.latencies, float(name[1:]))

    @property
    def errors(self) -> dict[str, int]:
        """Failed calls of every round, by status code name."""
        total: dict[str, int] = {}
        for sample in self.rounds:
            for code, count in sample.errors:
                total[code] = total.get(code, 0) + count
        return total


async def taking_turns(variants: Sequence[Variant], total: int) -> dict[str, Sample]:
    """``total`` requests per variant, one at a time, the variants taking turns (A B B A A B...).

    At concurrency 1 nothing forces a variant's requests to run in a block, and pairs of
    requests measured a second apart see the same machine where blocks measured minutes apart
    do not.
    """
    latencies: dict[str, list[float]] = {v.label: [] for v in variants}
    for turn in range(total):
        for v in variants if turn % 2 == 0 else reversed(variants):
            start = time.perf_counter()
            await v.request()
            latencies[v.label].append(time.perf_counter() - start)
    return {label: Sample(tuple(ts), sum(ts)) for label, ts in latencies.items()}


async def _round(variants: Sequence[Variant], profile: Profile) -> dict[str, Sample]:
    sizes = {v.round_size(profile) for v in variants}
    if len(sizes) == 1 and all(v.concurrency == 1 for v in variants):
        return await taking_turns(variants, sizes.pop())
    return {v.label: await closed_loop(v.request, v.concurrency, v.round_size(profile))
            for v in variants}


async def interleaved(variants: Sequence[Variant], profile: Profile) -> dict[str, Measurement]:
    """Measure every variant in alternating rounds; keyed by label."""
    for variant in variants:  # connections, sessions, first-use allocations
        await closed_loop(variant.request, 1, profile.warmup)
    samples: dict[str, list[Sample]] = {v.label: [] for v in variants}
    for round_number in range(profile.rounds):
        order = variants if round_number % 2 == 0 else list(reversed(variants))
        for label, sample in (await _round(order, profile)).items():
            samples[label].append(sample)
    return {v.label: Measurement(v.label, v.concurrency, tuple(samples[v.label])) for v in variants}


@dataclass(frozen=True)
class Row:
    """One comparison: variant ``a`` against variant ``b`` on one figure."""

    benchmark: str
    case: str
    a: Measurement
    b: Measurement
    figure: str                # the figure the ratios compare: "req/s", "p50" or "p95"
    ratios: tuple[float, ...]  # a / b in each round; their spread shows the machine's noise

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def as_dict(self) -> dict:
        return {
            "benchmark": self.benchmark, "case": self.case, "figure": self.figure,
            "ratio": self.ratio, "round_ratios": list(self.ratios),
            "a": _measurement_dict(self.a), "b": _measurement_dict(self.b),
        }


@dataclass(frozen=True)
class Skipped:
    """A comparison that could not run here, and why; ``failed`` when it broke while running."""

    benchmark: str
    case: str
    reason: str
    failed: bool = False

    def as_dict(self) -> dict:
        return {"benchmark": self.benchmark, "case": self.case,
                "failed" if self.failed else "skipped": self.reason}


def compare(benchmark: str, case: str, a: Measurement, b: Measurement, figure: str) -> Row:
    """Row of ``a`` against ``b``; the ratio pairs rounds measured back to back."""
    if figure not in FIGURES:
        raise ValueError(f"unknown figure {figure!r}; choose one of {FIGURES}")
    ratios = tuple(sa.figure(figure) / sb.figure(figure) for sa, sb in zip(a.rounds, b.rounds))
    return Row(benchmark, case, a, b, figure, ratios)


def _measurement_dict(m: Measurement) -> dict:
    figures = {name: m.figure(name) for name in FIGURES}
    return {"label": m.label, "concurrency": m.concurrency, "requests": len(m.latencies),
            "rounds": len(m.rounds), "errors": m.errors, **figures}
