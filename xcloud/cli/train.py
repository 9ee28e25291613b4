"""xcloud train KIND --data DIR [--name NAME]: train a new model version on a labelled set.

``TRAINERS`` maps a kind to ``"module:function"``, imported only when it runs (training pulls
in torch). The function is called as ``function(data_dir, name, data_terms=...)``, writes
``models/repository/<name>/<n+1>/`` and returns that folder.
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

TRAINERS: dict[str, str] = {
    "fine-grained": "models.fine_grained.train:train",
}
SERVED_BY = {"fine-grained": "XCLOUD_FINE_GRAINED_MODELS"}


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "train", parents=parents, help="train a new model version on a labelled image set",
        description="Data: a folder per class (DIR/<class>/*.jpg; 20%% held out by a hash of "
        "each path) or a labels.csv set (filename,class_idx,class_name,repo_split + images/).",
    )
    p.add_argument("kind", metavar="KIND", choices=sorted(TRAINERS),
                   help=f"one of: {', '.join(sorted(TRAINERS))}")
    p.add_argument("--data", type=Path, required=True, help="the labelled set")
    p.add_argument("--name", default=None,
                   help="model name in the repository (default: <data folder>_mobilenet_v2)")
    p.add_argument("--terms", default="",
                   help="licence / terms of the training data, recorded in the model card")
    p.set_defaults(run=run)


def default_name(data: Path) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", data.resolve().name.lower()).strip("_") or "model"
    return f"{slug}_mobilenet_v2"


def run(args: argparse.Namespace) -> int:
    if not args.data.is_dir():
        print(f"xcloud train: error: data folder {args.data} does not exist", file=sys.stderr)
        return 2
    name = args.name or default_name(args.data)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        print(f"xcloud train: error: model name {name!r} may hold only letters, digits, "
              "'_', '.' and '-'", file=sys.stderr)
        return 2
    module_name, _, function_name = TRAINERS[args.kind].partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    try:
        folder = function(args.data, name, data_terms=args.terms)
    except (ValueError, FileNotFoundError) as exc:
        print(f"xcloud train: error: {exc}", file=sys.stderr)
        return 1
    print(f"serve it: add {name!r} to {SERVED_BY[args.kind]} and restart the service "
          f"(model card: {folder / 'model.json'})")
    return 0
