"""PNG figures of evaluation results: the identity ROC and fairness tables as bars.

The input is the figures dict an evaluation prints with ``--json``; nothing is recomputed. What
is plotted is found by shape, wherever it sits in the dict:

* an ROC: a dict with ``tar_at_far_<FAR>`` keys (one line per such dict: per model and set,
  ``models.identity.metrics.roc``), plus its served operating point when it has
  ``far_at_threshold`` and ``tar_at_threshold``;
* a fairness table: a dict with ``groups`` (name -> ``{"n", "value"}``) and ``worst``
  (``models.evaluation.fairness.group_table``).

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no GUI backend, no global
state), so this runs headless and from threads.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TAR_AT_FAR = re.compile(r"^tar_at_far_(.+)$")
DPI = 120
WORST_COLOUR = "#d62728"
BAR_COLOUR = "#1f77b4"


# ---- finding what to plot ----------------------------------------------------------------------

def walk(figures: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Every dict inside ``figures`` with the keys leading to it."""
    if isinstance(figures, dict):
        yield path, figures
        for key, value in figures.items():
            yield from walk(value, (*path, str(key)))


def roc_points(figures: dict) -> list[tuple[float, float]]:
    """(FAR, TAR) pairs of one dict, by increasing FAR."""
    points = []
    for key, value in figures.items():
        match = TAR_AT_FAR.match(key)
        if match and isinstance(value, (int, float)):
            points.append((float(match[1]), float(value)))
    return sorted(points)


def roc_curves(figures: dict) -> dict[tuple[str, ...], tuple[list[tuple[float, float]], dict]]:
    """Keys to a dict with ROC points -> (its points, the dict), for every such dict."""
    return {path: (points, found)
            for path, found in walk(figures) if (points := roc_points(found))}


def fairness_tables(figures: dict) -> dict[str, dict]:
    """Label (keys joined by ".") -> group table, for every table inside ``figures``."""
    return {".".join(path) or "groups": found for path, found in walk(figures)
            if isinstance(found.get("groups"), dict) and "worst" in found}


# ---- drawing -----------------------------------------------------------------------------------

def roc_figure(figures: dict, title: str) -> Figure | None:
    """TAR against FAR (log scale) per model and set; None when ``figures`` has no ROC."""
    curves = roc_curves(figures)
    if not curves:
        return None
    figure = Figure(figsize=(7, 5), dpi=DPI)
    axes = figure.add_subplot()
    for path, (points, found) in curves.items():
        fars, tars = zip(*points)
        line, = axes.plot(fars, tars, marker="o", label=" / ".join(path) or title)
        operating = operating_point(found)
        if operating is not None:
            axes.plot(*operating, marker="*", markersize=12, color=line.get_color(),
                      linestyle="none")
    axes.set_xscale("log")
    axes.set(xlabel="false accept rate (FAR)", ylabel="true accept rate (TAR)",
             title=f"{title}: ROC (stars: the served threshold)", ylim=(0, 1.02))
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="lower right")
    return figure


def operating_point(found: dict) -> tuple[float, float] | None:
    """(FAR, TAR) at the served threshold; None when FAR is 0 (not on a log axis) or either
    is missing."""
    far, tar = found.get("far_at_threshold"), found.get("tar_at_threshold")
    if isinstance(far, (int, float)) and isinstance(tar, (int, float)) and far > 0:
        return float(far), float(tar)
    return None


def fairness_figure(table: dict, title: str) -> Figure:
    """One bar per group (its n above it), the worst group in red."""
    names = list(table["groups"])
    values = [float(table["groups"][n]["value"]) for n in names]
    figure = Figure(figsize=(max(6.0, 0.7 * len(names) + 2), 4.5), dpi=DPI)
    axes = figure.add_subplot()
    colours = [WORST_COLOUR if n == table["worst"] else BAR_COLOUR for n in names]
    bars = axes.bar(names, values, color=colours)
    axes.bar_label(bars, labels=[f"n={table['groups'][n].get('n', '?')}" for n in names],
                   fontsize="x-small")
    axes.set(title=f"{title} (red: worst, {table['worst']})", ylabel="value")
    axes.tick_params(axis="x", labelrotation=45, labelsize="small")
    figure.tight_layout()
    return figure


# ---- writing -----------------------------------------------------------------------------------

def save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))
    return path


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "table"


def write_plots(name: str, figures: dict, out_dir: Path) -> list[Path]:
    """``NAME-roc.png`` and ``NAME-fairness-<table>.png`` in ``out_dir``, for what ``figures``
    holds; the paths written (none when it has neither)."""
    written = []
    roc = roc_figure(figures, name)
    if roc is not None:
        written.append(save(roc, out_dir / f"{name}-roc.png"))
    for label, table in fairness_tables(figures).items():
        written.append(save(fairness_figure(table, f"{name}: {label}"),
                            out_dir / f"{name}-fairness-{slug(label)}.png"))
    return written
