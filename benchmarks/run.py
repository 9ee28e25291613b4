"""python -m benchmarks.run (what `make bench` runs): one table of ratios measured side by side.

Adding a benchmark is one module with ``async def NAME(testbed, profile) -> list[Row | Skipped]``
and one entry in ``BENCHMARKS``. A benchmark that breaks gets a "failed" row and the others
still run. Exit code 0 when every benchmark ran, 1 when one failed (figures are reported,
never judged: on a shared machine a threshold would fail at random).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import grpc

from benchmarks import detection, faces, fine_grained, gallery, gateway
from benchmarks.harness import PROFILES, Profile, Row, Skipped
from benchmarks.inputs import Photo, default_photos
from benchmarks.report import print_table, write_json
from benchmarks.testbed import Testbed
from xcloud.launcher import REPO_ROOT

log = logging.getLogger("benchmarks")
Benchmark = Callable[[Testbed, Profile], Awaitable[list[Row | Skipped]]]

BENCHMARKS: dict[str, Benchmark] = {
    "batching": detection.batching,
    "served_vs_raw": detection.served_vs_raw,
    "gateway": gateway.overhead,
    "cache": gateway.cache_hits,
    "fine_grained": fine_grained.served_vs_raw,
    "attributes": faces.attributes_served_vs_raw,
    "per_face": faces.per_face_pipeline,
    "gallery": gallery.identify,
}
DEFAULT_JSON = REPO_ROOT / "bench-results" / "latest.json"


async def run_benchmarks(names: Sequence[str], profile: Profile,
                         photos: Sequence[Photo]) -> list[Row | Skipped]:
    """Run the named benchmarks in order against one shared testbed; progress on stderr."""
    rows: list[Row | Skipped] = []
    testbed = Testbed(photos)
    try:
        for name in names:
            rows += await _run_one(name, testbed, profile)
    finally:
        await testbed.close()
    return rows


async def _run_one(name: str, testbed: Testbed, profile: Profile) -> list[Row | Skipped]:
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
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests")
    parser.add_argument("--only", action="append", choices=list(BENCHMARKS), metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path, metavar="PATH",
                        help=f"also write the figures as JSON (default path {DEFAULT_JSON})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = PROFILES["quick" if args.quick else "default"]
    names = args.only or list(BENCHMARKS)
    rows = asyncio.run(run_benchmarks(names, profile, default_photos()))
    print_table(rows, profile, sys.stdout)
    if args.json:
        write_json(rows, profile, args.json)
        print(f"figures written to {args.json}", file=sys.stderr)
    return 1 if any(isinstance(row, Skipped) and row.failed for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
