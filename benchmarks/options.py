"""The options of a benchmark run, shared by python -m benchmarks.run and `xcloud bench`.

Kept apart from run.py so that building the `xcloud` command line does not import every
benchmark (servers' code, onnxruntime, the peers); the names are checked when the run starts.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.harness import PROFILES

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = REPO_ROOT / "bench-results" / "latest.json"
DEFAULT_OUT = REPO_ROOT / "bench-results" / "report"
NAMES = ("batching", "served_vs_raw", "gateway", "cache", "fine_grained", "attributes",
         "per_face", "gallery", "compute_limit", "naive", "thread_budget", "mlserver_expression",
         "mlserver_trunk")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a run (shared with `xcloud bench`)."""
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter rounds")
    parser.add_argument("--profile", choices=list(PROFILES), help="a named profile (smoke: "
                        "every code path once, figures meaningless)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this benchmark (repeatable): " + ", ".join(NAMES))
    parser.add_argument("--images", type=Path, metavar="DIR", help="folder of the distinct "
                        "images the timed comparisons send (default: SCUT-FBP5500 in "
                        "../shared/data)")
    parser.add_argument("--round-s", type=float, metavar="S", help="seconds a timed round lasts")
    parser.add_argument("--warmup-s", type=float, metavar="S", help="unmeasured seconds before")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                        help=f"report folder: report.md and plots (default {DEFAULT_OUT})")
    parser.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path, metavar="PATH",
                        help=f"also write the figures as JSON (default path {DEFAULT_JSON})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
