"""Latency against offered load, one curve per system: one PNG per timed comparison.

For a closed loop the load a system is offered is what it answers (each worker waits for its
answer), so the x axis is the measured throughput and each point is labelled with its
concurrency; an open loop's points sit at their arrival rate. Solid lines are p50, dashed
p99, on a log scale (latencies at saturation are orders of magnitude above those at c=1).
"""
from __future__ import annotations

import re
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from benchmarks.loadgen import Load, Sweep

DPI = 90  # small committed files: a 7 x 4.5 inch figure is about 40 KB


def offered(load: Load, throughput: float) -> float:
    return throughput if load.kind == "closed" else load.level


def plot_sweep(sweep: Sweep, folder: Path) -> Path:
    """Write ``<benchmark>.png`` into ``folder``; returns its path."""
    figure = Figure(figsize=(7, 4.5))  # the Agg canvas, no pyplot: no display, no global state
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for index, (system, points) in enumerate(sweep.points.items()):
        color = f"C{index}"
        xs = [offered(load, m.figure("req/s")) for load, m in points]
        for figure_name, style in (("p50", "-"), ("p99", "--")):
            ys = [m.figure(figure_name) for _, m in points]
            axes.plot(xs, ys, style, marker="o", color=color, label=f"{system} {figure_name}")
        for (load, m), x in zip(points, xs):
            axes.annotate(load.label, (x, m.figure("p50")), textcoords="offset points",
                          xytext=(4, -10), fontsize=7, color=color)
    axes.set_yscale("log")
    axes.set_xlabel("offered load = throughput in a closed loop (req/s)")
    axes.set_ylabel("latency (ms)")
    axes.set_title(sweep.title, fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_file_name(sweep.benchmark)}.png"
    figure.savefig(path, dpi=DPI)
    return path


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
