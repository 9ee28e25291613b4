"""xcloud eval NAME: run one of the project's evaluations on labelled data.

``EVALUATIONS`` maps a name to ``"module:function"``; the module is imported only when its
evaluation runs (they pull in heavy dependencies). The function receives the parsed
arguments (``data``: Path, ``json``: bool, ``limit``: int | None, ``name``) and returns an exit
code (None counts as 0); a function with keyword parameters ``data``, ``as_json`` and
``limit`` is called with those instead.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ENV = "XCLOUD_DATA"

KEYWORD_STYLE = {"data", "as_json", "limit"}
EVALUATIONS: dict[str, str] = {
    "age": "models.evaluation.age:main",
    "animal-identity": "models.evaluation.animal_identity:main",
    "beauty": "models.evaluation.beauty:main",
    "blazeface": "models.evaluation.blazeface:main",
    "content-quality": "models.evaluation.content_quality:main",
    "detection": "models.evaluation.detection:main",
    "expression": "models.evaluation.expression:main",
    "fine-grained": "models.evaluation.fine_grained:main",
    "gender": "models.evaluation.gender:main",
    "identity": "models.evaluation.identity:main",
    "race": "models.evaluation.race:main",
}


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV) or REPO_ROOT.parent / "shared" / "data")


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "eval", parents=parents, help="measure a model on labelled data",
        description=f"Evaluations: {', '.join(sorted(EVALUATIONS))}.",
    )
    p.add_argument("name", metavar="NAME", help=f"one of: {', '.join(sorted(EVALUATIONS))}")
    p.add_argument("--data", type=Path, default=None,
                   help=f"data directory (default: ${DATA_ENV} or <repo>/../shared/data)")
    p.add_argument("--json", action="store_true", help="machine-readable results")
    p.add_argument("--limit", type=int, default=None, help="use at most N samples (quick run)")
    p.set_defaults(run=run)


class EvaluationUnavailable(Exception):
    pass


def resolve(name: str) -> Callable[[argparse.Namespace], int | None]:
    """The function registered under ``name``, imported now."""
    if name not in EVALUATIONS:
        raise EvaluationUnavailable(
            f"unknown evaluation {name!r}; known: {', '.join(sorted(EVALUATIONS))}")
    module_name, _, function_name = EVALUATIONS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise EvaluationUnavailable(
                f"evaluation {name!r} is not available: module {module_name} is missing") from exc
        raise EvaluationUnavailable(
            f"evaluation {name!r} needs {exc.name}, which is not installed") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise EvaluationUnavailable(f"{module_name} has no function {function_name}()")
    return function


def run(args: argparse.Namespace) -> int:
    try:
        function = resolve(args.name)
    except EvaluationUnavailable as exc:
        print(f"xcloud eval: error: {exc}", file=sys.stderr)
        return 2
    if args.data is None:
        args.data = default_data_dir()
    result = call(function, args)
    return 0 if result is None else int(result)


def call(function: Callable[..., int | None], args: argparse.Namespace) -> int | None:
    """``function(args)``, or by keyword for mains shaped ``main(data, as_json, limit)``."""
    if KEYWORD_STYLE <= inspect.signature(function).parameters.keys():
        return function(data=str(args.data), as_json=args.json, limit=args.limit)
    return function(args)
