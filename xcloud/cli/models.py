"""xcloud models [NAME]: the models behind the gateway, one line each, or one model's card.

The list fits a 100-column terminal: name, version, installed, the first sentence of the card's
summary (cut to the room left) and the headline metric. ``xcloud models NAME`` prints every
card field the gateway reports (ModelDescription): service, version, whole summary, source,
licence and every numeric metric.
"""
from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence

import grpc

from xcloud.cli import formatting
from xcloud.client import GatewayClient
from xcloud.v1 import common_pb2

WIDTH = 100
MIN_SUMMARY_WIDTH = 20
HEADERS = ("model", "version", "installed", "summary", "metric")
SUMMARY_COLUMN = HEADERS.index("summary")
SENTENCE_END = re.compile(r"(?<=\.) (?=[A-Z])")
# The metric a card leads with, by the last part of its (flattened) key, best first: accuracy
# for classifiers, TAR at FAR 1e-3 for identity, Pearson correlation for beauty, mean absolute
# error for regressions (age, content quality), detection rate for detectors. A model whose card
# has none of them shows "-".
HEADLINE_KEYS = ("accuracy", "tar_at_far_0.001", "pc", "mae", "utkface_test", "test_mae_mean",
                 "detection_rate", "far_at_threshold")


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "models", parents=parents, help="list the models behind the gateway, or show one card",
        description="Without NAME, one line per model; with NAME, that model's card.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="show this model's whole card")
    p.add_argument("--json", action="store_true",
                   help="print the ListModelsResponse (or NAME's entries) as canonical protobuf "
                        "JSON on one line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with GatewayClient(args.gateway, args.timeout) as client:
        try:
            reply = client.list_models()
        except grpc.RpcError as exc:
            return _error(f"{exc.code().name}: {exc.details()}")
    if args.name:
        return _show_card(reply, args.name, args.json)
    if args.json:
        print(formatting.to_json_line(reply))
        return 0
    print(listing(reply.models))
    missing = sum(not m.installed for m in reply.models)
    if missing:
        print(f"{missing} model(s) not installed: build them with `make models`")
    return 0


def _show_card(reply: common_pb2.ListModelsResponse, name: str, as_json: bool) -> int:
    found = [m for m in reply.models if m.model.name == name]
    if not found:
        known = ", ".join(sorted({m.model.name for m in reply.models})) or "none"
        return _error(f"no model named {name!r} behind the gateway; known: {known}")
    if as_json:
        print(formatting.to_json_line(common_pb2.ListModelsResponse(models=found)))
    else:
        # one model may be served by more than one service (e.g. a shared backbone)
        print("\n\n".join(card_text(m) for m in found))
    return 0


def _error(message: str) -> int:
    print(f"xcloud models: error: {message}", file=sys.stderr)
    return 1


# ---- the list ----------------------------------------------------------------------------------

def headline_metric(metrics: Mapping[str, float]) -> str:
    """``detection_rate 0.998``: the first of HEADLINE_KEYS the card has, or ``-``."""
    for wanted in HEADLINE_KEYS:
        # keys are "evaluation.metric" (and metric names may hold a dot: tar_at_far_0.001);
        # of two evaluations with the metric, the first by name wins
        found = sorted(k for k in metrics if k == wanted or k.endswith("." + wanted))
        if found:
            return f"{wanted} {metrics[found[0]]:.3g}"
    return "-"


def first_sentence(text: str) -> str:
    """The summary up to its first full stop before a capital ("e.g. two" goes on)."""
    return SENTENCE_END.split(" ".join(text.split()), maxsplit=1)[0]


def listing(models: Sequence[common_pb2.ModelDescription], width: int = WIDTH) -> str:
    """The table, with the summary column cut so that no line is longer than ``width``."""
    rows = [[m.model.name, m.model.version or "-", formatting.yes_no(m.installed),
             first_sentence(m.summary) or "-", headline_metric(m.metrics)] for m in models]
    room = width - formatting.table_width(HEADERS, rows, skip=SUMMARY_COLUMN)
    summary_width = max(MIN_SUMMARY_WIDTH, room)
    for row in rows:
        row[SUMMARY_COLUMN] = formatting.truncate(row[SUMMARY_COLUMN], summary_width)
    return formatting.table(HEADERS, rows)


# ---- one card ----------------------------------------------------------------------------------

def card_text(model: common_pb2.ModelDescription, width: int = WIDTH) -> str:
    """Every field of the model's card that the gateway reports, wrapped to ``width``."""
    fields = [
        ("model", model.model.name),
        ("version", model.model.version or "-"),
        ("service", model.service),
        ("installed", formatting.yes_no(model.installed)
         + ("" if model.installed else " (build it with `make models`)")),
        ("source", model.source or "-"),
        ("license", model.license or "-"),
        ("summary", " ".join(model.summary.split()) or "-"),
    ]
    label_width = max(len(label) for label, _ in fields) + 2
    lines = []
    for label, value in fields:
        lines += textwrap.wrap(value, width, initial_indent=f"{label}:".ljust(label_width),
                               subsequent_indent=" " * label_width) or [f"{label}:"]
    lines += metric_lines(model.metrics)
    return "\n".join(lines)


def metric_lines(metrics: Mapping[str, float]) -> list[str]:
    """The metrics as a table per evaluation (the key's part before the first dot)."""
    if not metrics:
        return ["metrics: none recorded (run `xcloud eval`)"]
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, value in sorted(metrics.items()):
        group, dot, name = key.partition(".")
        groups[group if dot else ""].append((name if dot else key, f"{value:.4g}"))
    lines = ["metrics:"]
    for group, rows in groups.items():
        lines.append(f"  {group or '(card)'}")
        lines.append(formatting.table(("metric", "value"), rows, indent="    "))
    return lines
