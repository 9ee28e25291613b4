"""xcloud eval NAME: run one of the project's evaluations on labelled data.

``EVALUATIONS`` maps a name to ``"module:function"``; the module is imported only when its
evaluation runs (they pull in heavy dependencies). Every evaluation is a
``main(data, as_json, limit)`` (the data folder as a string, --json, --limit) returning an
exit code (None counts as 0).

``--plots DIR`` runs the evaluation with ``--json``, keeps the JSON it prints as
``DIR/NAME.json`` and draws its figures beside it (models/evaluation/plots.py: the identity ROC,
each fairness table as bars).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_ENV = "XCLOUD_DATA"

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
    p.add_argument("--plots", type=Path, default=None, metavar="DIR",
                   help="write the results as DIR/NAME.json and their figures beside it as PNG "
                        "(identity ROC, fairness tables as bars); implies --json")
    p.set_defaults(run=run)


class EvaluationUnavailable(Exception):
    pass


def resolve(name: str) -> Callable[..., int | None]:
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
    if args.plots is not None:
        return run_with_plots(function, args)
    result = call(function, args)
    return 0 if result is None else int(result)


def run_with_plots(function: Callable[..., int | None], args: argparse.Namespace) -> int:
    """The evaluation with --json, its output passed through, then the JSON and PNG files.

    Its exit code stands (a missed target is still 1); a run that printed no JSON object, or
    plots that cannot be drawn, make it 1 too.
    """
    args.json = True
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        result = call(function, args)
    sys.stdout.write(captured.getvalue())
    code = 0 if result is None else int(result)
    figures = last_json_object(captured.getvalue())
    if figures is None:
        print(f"xcloud eval: error: {args.name} printed no JSON result; no plots written",
              file=sys.stderr)
        return code or 1
    try:
        written = write_results(args.name, figures, args.plots)
    except (ImportError, OSError) as exc:
        print(f"xcloud eval: error: cannot write plots to {args.plots}: {exc}", file=sys.stderr)
        return code or 1
    print("xcloud eval: wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return code


def last_json_object(text: str) -> dict | None:
    """The last line of ``text`` that is a JSON object (evaluations print theirs last)."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                return json.loads(line)
    return None


def write_results(name: str, figures: dict, out_dir: Path) -> list[Path]:
    """``OUT_DIR/NAME.json`` and the plots of ``figures`` beside it."""
    # imported here: matplotlib (a dev dependency) is needed only for --plots
    from models.evaluation.plots import write_plots

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return [path, *write_plots(name, figures, out_dir)]


def call(function: Callable[..., int | None], args: argparse.Namespace) -> int | None:
    """The evaluation's ``main(data, as_json, limit)`` with the parsed arguments."""
    return function(data=str(args.data), as_json=args.json, limit=args.limit)
