"""The report folder of a run: report.md (machine, ratios with their targets, errors, every
sweep point) and one PNG per timed comparison (benchmarks/plots.py)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import FIGURES, Measurement, Profile, Row, Skipped
from benchmarks.loadgen import Sweep
from benchmarks.peers import TARGETS
from benchmarks.plots import plot_sweep
from benchmarks.report import machine

REPORT = "report.md"


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def _errors(m: Measurement) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(m.errors.items())) or "0"


def target_cells(row: Row) -> tuple[str, str]:
    target = TARGETS.get((row.benchmark, row.case))
    if target is None:
        return "", ""
    return str(target), "yes" if target.holds(row.ratio) else "**no**"


def ratio_lines(rows: Sequence[Row | Skipped]) -> list[str]:
    header = ["benchmark", "case", "A vs B", *(f"{f} {s}" for f in FIGURES for s in "AB"),
              "ratio A/B", "rounds", "of", "target", "holds", "errors A / B"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        if isinstance(row, Skipped):
            cells = [row.benchmark, row.case, ("failed: " if row.failed else "skipped: ")
                     + row.reason.replace("|", "/")] + [""] * (len(header) - 3)
        else:
            numbers = [_number(m.figure(f)) for f in FIGURES for m in (row.a, row.b)]
            cells = [row.benchmark, row.case, f"{row.a.label} vs {row.b.label}", *numbers,
                     f"**{row.ratio:.3g}**", f"{min(row.ratios):.3g}-{max(row.ratios):.3g}",
                     row.figure, *target_cells(row), f"{_errors(row.a)} / {_errors(row.b)}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def sweep_lines(sweep: Sweep, image: str) -> list[str]:
    lines = [f"### {sweep.title}", "", f"![{sweep.title}]({image})", "",
             "| system | load | req/s | p50 ms | p95 ms | p99 ms | calls | errors |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for system, points in sweep.points.items():
        lines += [f"| {system} | {load.label} | {_number(m.figure('req/s'))} | "
                  f"{_number(m.figure('p50'))} | {_number(m.figure('p95'))} | "
                  f"{_number(m.figure('p99'))} | {len(m.latencies)} | {_errors(m)} |"
                  for load, m in points]
    return lines + [""]


def profile_note(profile: Profile) -> str:
    return (f"Profile `{profile.name}`: {profile.rounds} interleaved rounds per variant; "
            f"timed comparisons {profile.round_s:g} s a round after {profile.warmup_s:g} s "
            "of warm-up. Ratio A/B: the median of the per-round ratios; rounds: their range.")


def write_report(rows: Sequence[Row | Skipped], sweeps: Sequence[Sweep], folder: Path,
                 command: str, how: str) -> Path:
    """report.md and the plots into ``folder``; returns the report's path. ``how`` says how
    the load was made (profile_note for a run of the benchmarks)."""
    folder.mkdir(parents=True, exist_ok=True)
    about = machine()
    where = (f"`{command}` on {about['date']}: {about['cpus']} CPUs, load average "
             f"{about['load_average'][0]:.1f} at the end, Python {about['python']}, onnxruntime "
             f"{about['onnxruntime']} ({', '.join(about['providers'])}), {about['platform']}.")
    lines = ["# XCloud benchmark report", "", where, "", how, ""]
    if rows:
        lines += ["## Ratios", "", *ratio_lines(rows), ""]
    if sweeps:
        lines += ["## Latency against offered load", ""]
        for sweep in sweeps:
            lines += sweep_lines(sweep, plot_sweep(sweep, folder).name)
    path = folder / REPORT
    path.write_text("\n".join(lines) + "\n")
    return path
