"""The progress bar of a benchmark run: one step per measured window (system x load x round).

Benchmarks announce their windows as they reach them (``plan``), so the total grows during a
run; the bar goes to stderr and shows the last window's system, load and throughput.
"""
from __future__ import annotations

import sys

from tqdm import tqdm

from benchmarks.harness import Sample
from benchmarks.loadgen import Load


class WindowBar:
    def __init__(self, enabled: bool = True):
        self._bar = tqdm(total=0, unit="window", file=sys.stderr, disable=not enabled,
                         dynamic_ncols=True, leave=False)

    def plan(self, windows: int) -> None:
        self._bar.total += windows
        self._bar.refresh()

    def __call__(self, system: str, load: Load, round_number: int, sample: Sample) -> None:
        errors = sum(count for _, count in sample.errors)
        self._bar.set_postfix_str(f"{system} {load.label} round {round_number + 1}: "
                                  f"{sample.throughput:.1f} req/s, {errors} errors", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()
