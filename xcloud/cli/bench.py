"""xcloud bench: the load generator (benchmarks/loadgen.py) from the command line.

Two uses:

- ``xcloud bench`` (what ``make bench`` runs): every benchmark of benchmarks/run.py against
  servers it starts itself, XCloud side by side with its compute limit, a naive PyTorch server
  and MLServer; the table of ratios on stdout, report.md and plots in ``--out``.
- ``xcloud bench --live``: closed-loop (``--concurrency``) or open-loop (``--mode open
  --rate``) load on the gateway at ``--gateway`` (``make run``'s by default), reported the
  same way.

The benchmarks live in the repository (benchmarks/, next to tests/support they use), not in
the installed package: the command runs from a checkout.
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from xcloud.launcher import REPO_ROOT

DEFAULT_TASKS = "detection,attributes,expression,embedding"


def _numbers(kind: type):
    return lambda text: [kind(part) for part in text.split(",") if part.strip()]


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "bench", parents=parents, help="benchmarks side by side, or load on a running gateway",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _ensure_checkout()
    from benchmarks.options import add_arguments

    add_arguments(p)
    live = p.add_argument_group("--live: load on a running gateway")
    live.add_argument("--live", action="store_true", help="drive the gateway at --gateway")
    live.add_argument("--tasks", default=DEFAULT_TASKS, help=f"Analyze tasks ({DEFAULT_TASKS})")
    live.add_argument("--mode", choices=("closed", "open"), default="closed",
                      help="closed: fixed concurrency; open: Poisson arrivals at --rate")
    live.add_argument("--concurrency", type=_numbers(int), default=[1, 4, 16], metavar="C,C",
                      help="closed-loop workers per level (default 1,4,16)")
    live.add_argument("--rate", type=_numbers(float), default=[], metavar="R,R",
                      help="open-loop arrivals per second per level, e.g. 2,5,10")
    live.add_argument("--duration", type=float, default=20.0, metavar="S",
                      help="measured seconds per level (default 20)")
    live.add_argument("--repeat", action="store_true",
                      help="send identical images again (the cache may answer)")
    p.set_defaults(run=run)


def _ensure_checkout() -> None:
    """benchmarks/ is importable from the repository root only."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


def run(args: argparse.Namespace) -> int:
    _ensure_checkout()
    command = " ".join(["xcloud", *sys.argv[1:]])
    if not args.live:
        from benchmarks.run import run as run_benchmarks

        return run_benchmarks(args, command)
    return _live(args, command)


def _live(args: argparse.Namespace, command: str) -> int:
    from benchmarks import live
    from benchmarks.inputs import default_corpus
    from benchmarks.progress import WindowBar

    try:
        loads = live.loads_from(args.mode, args.concurrency, args.rate)
    except ValueError as exc:
        print(f"xcloud bench: {exc}", file=sys.stderr)
        return 2
    plan = live.LivePlan(args.gateway, tuple(t for t in args.tasks.split(",") if t), loads,
                         args.duration, 2.0 if args.warmup_s is None else args.warmup_s,
                         args.repeat)
    bar = WindowBar(enabled=not args.no_progress)
    try:
        sweep = asyncio.run(live.drive(plan, default_corpus(args.images), bar))
    finally:
        bar.close()
    path = live.report(sweep, plan, args.out, command)
    for load, m in sweep.points["gateway"]:
        errors = sum(m.errors.values())
        print(f"{load.label:>8}  {m.figure('req/s'):8.1f} req/s  p50 {m.figure('p50'):8.1f} ms  "
              f"p95 {m.figure('p95'):8.1f} ms  p99 {m.figure('p99'):8.1f} ms  errors {errors}"
              + (f" {m.errors}" if errors else ""))
    print(f"report written to {path}", file=sys.stderr)
    return 1 if any(m.errors for _, m in sweep.points["gateway"]) else 0
