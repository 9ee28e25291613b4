"""The benchmarks' table, and their figures as JSON."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import onnxruntime

from benchmarks.harness import FIGURES, Profile, Row, Skipped

HEADER = ("benchmark", "case", "A vs B", "req/s A", "req/s B", "p50 ms A", "p50 ms B",
          "p95 ms A", "p95 ms B", "p99 ms A", "p99 ms B", "ratio A/B", "rounds", "of")
WIDTHS = (13, 16, 26, 7, 7, 8, 8, 8, 8, 8, 8, 9, 13, 5)
TEXT_COLUMNS = (0, 1, 2, 13)


def machine() -> dict:
    """Where the figures were measured: they only mean something next to this."""
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
    }


def _cells(row: Row | Skipped) -> list[str]:
    if isinstance(row, Skipped):
        return [row.benchmark, row.case, f"skipped: {row.reason}"]
    numbers = [f"{m.figure(f):.1f}" for f in FIGURES for m in (row.a, row.b)]
    spread = f"{min(row.ratios):.3g}-{max(row.ratios):.3g}"
    return [row.benchmark, row.case, f"{row.a.label} vs {row.b.label}", *numbers,
            f"{row.ratio:.3g}", spread, row.figure]


def _line(cells: Sequence[str]) -> str:
    # Numbers right-aligned, names left-aligned; a skip note runs past the columns.
    parts = [c.ljust(w) if i in TEXT_COLUMNS else c.rjust(w)
             for i, (c, w) in enumerate(zip(cells, WIDTHS))]
    return "  ".join(parts).rstrip()


def print_table(rows: Sequence[Row | Skipped], profile: Profile, stream: TextIO) -> None:
    about = machine()
    stream.write(f"XCloud benchmarks ({profile.name}: {profile.rounds} interleaved rounds per "
                 f"variant), {about['date']}, {about['cpus']} CPUs, load "
                 f"{about['load_average'][0]:.1f}, {', '.join(about['providers'])}\n")
    stream.write(_line(HEADER) + "\n")
    stream.write(_line(["-" * w for w in WIDTHS]) + "\n")
    stream.writelines(_line(_cells(row)) + "\n" for row in rows)
    stream.write(f"ratio A/B: median over the rounds of A/B on the figure named under 'of'; "
                 f"rounds: the smallest and largest of those {profile.rounds} per-round values\n")


def write_json(rows: Sequence[Row | Skipped], profile: Profile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": machine(), "profile": dataclasses.asdict(profile),
                "rows": [row.as_dict() for row in rows]}
    path.write_text(json.dumps(document, indent=2) + "\n")
