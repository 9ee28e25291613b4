"""python -m benchmarks.run (what `make bench` and `xcloud bench` run): one table of ratios
measured side by side, and a report folder (report.md, one PNG per timed comparison).

Adding a benchmark is one module with ``async def NAME(testbed, profile) -> list[Row | Skipped]``
(a timed comparison may add a ``Sweep``: its plot) and one entry in ``BENCHMARKS``. A benchmark
that breaks gets a "failed" row and the others still run. Exit code 0 when every benchmark ran,
1 when one failed (figures are reported and targets marked, never enforced: on a shared
machine a threshold would fail at random).
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

import grpc

from benchmarks import detection, faces, fine_grained, gallery, gateway, peers
from benchmarks.harness import PROFILES, Profile, Row, Skipped
from benchmarks.inputs import Photo, default_corpus, default_photos
from benchmarks.loadgen import Sweep
from benchmarks.markdown import profile_note, write_report
from benchmarks.options import add_arguments
from benchmarks.progress import WindowBar
from benchmarks.report import print_table, write_json
from benchmarks.testbed import Testbed

log = logging.getLogger("benchmarks")
Result = Row | Skipped | Sweep
Benchmark = Callable[[Testbed, Profile], Awaitable[list[Result]]]

BENCHMARKS: dict[str, Benchmark] = {
    "batching": detection.batching,
    "served_vs_raw": detection.served_vs_raw,
    "gateway": gateway.overhead,
    "cache": gateway.cache_hits,
    "fine_grained": fine_grained.served_vs_raw,
    "attributes": faces.attributes_served_vs_raw,
    "per_face": faces.per_face_pipeline,
    "gallery": gallery.identify,
    "compute_limit": peers.compute_limit,
    "naive": peers.naive,
    "thread_budget": peers.thread_budget,
    "mlserver_expression": peers.mlserver_expression,
    "mlserver_trunk": peers.mlserver_trunk,
}


async def run_benchmarks(names: Sequence[str], profile: Profile, photos: Sequence[Photo],
                         corpus: Sequence[Photo] = (), progress: bool = False) -> list[Result]:
    """Run the named benchmarks in order against one shared testbed; progress on stderr."""
    results: list[Result] = []
    bar = WindowBar(enabled=progress)
    testbed = Testbed(photos, corpus, bar)
    try:
        for name in names:
            results += await _run_one(name, testbed, profile)
    finally:
        bar.close()
        await testbed.close()
    return results


def split(results: Sequence[Result]) -> tuple[list[Row | Skipped], list[Sweep]]:
    """The table's rows, and the plots' sweeps."""
    return ([r for r in results if not isinstance(r, Sweep)],
            [r for r in results if isinstance(r, Sweep)])


async def _run_one(name: str, testbed: Testbed, profile: Profile) -> list[Result]:
    started = time.perf_counter()
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    try:
        rows = await BENCHMARKS[name](testbed, profile)
    except Exception as exc:  # one broken benchmark must not cost the others' figures
        log.exception("benchmark %s failed", name)
        return [Skipped(name, "-", f"failed: {_summary(exc)}", failed=True)]
    print(f"bench: {name} done in {time.perf_counter() - started:.0f}s",
          file=sys.stderr, flush=True)
    return rows


def _summary(exc: Exception) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser.parse_args(argv)


def chosen_profile(args: argparse.Namespace) -> Profile:
    profile = PROFILES[args.profile or ("quick" if args.quick else "default")]
    timing = {k: v for k, v in (("round_s", args.round_s), ("warmup_s", args.warmup_s))
              if v is not None}
    return dataclasses.replace(profile, **timing)


def run(args: argparse.Namespace, command: str) -> int:
    """One run as ``args`` say; the table on stdout, the report into ``args.out``."""
    profile = chosen_profile(args)
    names = args.only or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    corpus = default_corpus(args.images)
    results = asyncio.run(run_benchmarks(names, profile, default_photos(), corpus,
                                         progress=not args.no_progress))
    rows, sweeps = split(results)
    print_table(rows, profile, sys.stdout)
    report = write_report(rows, sweeps, args.out, command, profile_note(profile))
    print(f"report written to {report}", file=sys.stderr)
    if args.json:
        write_json(rows, profile, args.json)
        print(f"figures written to {args.json}", file=sys.stderr)
    return 1 if any(isinstance(row, Skipped) and row.failed for row in rows) else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run(parse_args(argv), " ".join(["python -m benchmarks.run", *argv]))


if __name__ == "__main__":
    sys.exit(main())
