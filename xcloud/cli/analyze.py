"""xcloud analyze IMAGE...: send each image to the gateway's Analyze and print the answer.

With ``--draw OUT_DIR`` each answer is also drawn on its image (xcloud/cli/drawing.py) and
written as ``OUT_DIR/<stem>.png``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc
from tqdm import tqdm

from xcloud.cli import formatting
from xcloud.client import GatewayClient, analyze_request

# Whole-request failures after which the next image cannot fare better.
FATAL_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED,
               grpc.StatusCode.PERMISSION_DENIED)


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "analyze", parents=parents, help="analyze images through the gateway",
        description="Analyze images; one answer per image, in input order. Exit code 1 when "
                    "any image could not be read or analyzed.",
    )
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--tasks", type=_task_list, default=[],
                   help="comma-separated tasks, e.g. detection,fine_grained (default: every task)")
    p.add_argument("--json", action="store_true",
                   help="one line per image: the AnalyzeResponse as canonical protobuf JSON")
    p.add_argument("--min-face-size", type=float, default=0.0,
                   help="smallest face side in pixels (default: the service's)")
    p.add_argument("--score-threshold", type=float, default=0.0,
                   help="drop faces scoring below this (default: the service's)")
    p.add_argument("--max-faces", type=int, default=0, help="keep at most N faces (default: all)")
    p.add_argument("--no-cache", action="store_true", help="do not answer from the result cache")
    p.add_argument("--classifier", default="",
                   help="fine-grained model, e.g. flowers17_mobilenet_v2 (default: the service's)")
    p.add_argument("--top-k", type=int, default=0, help="fine-grained labels to return")
    p.add_argument("--collection", default="",
                   help="FACE collection to identify each face in (task identify; without "
                        "--tasks this runs detection,identify)")
    p.add_argument("--identify-top-k", type=int, default=0, help="subjects per face (default 5)")
    p.add_argument("--draw", type=Path, default=None, metavar="OUT_DIR",
                   help="also write each image with its faces' boxes, landmarks and summary "
                        "lines drawn, as OUT_DIR/<name>.png")
    p.set_defaults(run=run)


def _task_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _tasks(args: argparse.Namespace) -> list[str]:
    """--tasks as given; with --collection and no --tasks, detection and identify."""
    if args.collection and not args.tasks:
        return ["detection", "identify"]
    return args.tasks


def run(args: argparse.Namespace) -> int:
    failed = False
    drawn: set[Path] = set()  # output files already written by this run
    with GatewayClient(args.gateway, args.timeout) as client:
        # disable=None: tqdm shows the bar only when stderr is a terminal.
        bar = tqdm(args.images, file=sys.stderr, unit="image",
                   disable=True if len(args.images) < 2 else None)
        for done, path in enumerate(bar, 1):
            outcome = _analyze_one(client, path, args, drawn)
            failed = failed or outcome is not None
            if outcome in FATAL_CODES:
                left = len(args.images) - done
                _error(f"the gateway at {client.address} cannot serve requests"
                       + (f"; skipping the {left} remaining image(s)" if left else ""))
                break
        bar.close()
    return 1 if failed else 0


def _analyze_one(client: GatewayClient, path: Path, args: argparse.Namespace,
                 drawn: set[Path]):
    """Print the answer for one image; returns None on success, else what went wrong."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        _error(f"{path}: cannot read: {exc.strerror or exc}")
        return "unreadable"
    request = analyze_request(
        content, _tasks(args), min_face_size=args.min_face_size,
        score_threshold=args.score_threshold, max_faces=args.max_faces, no_cache=args.no_cache,
        fine_grained_model=args.classifier, top_k=args.top_k, collection=args.collection,
        identify_top_k=args.identify_top_k,
    )
    try:
        response = client.analyze(request)
    except grpc.RpcError as exc:
        _error(f"{path}: {exc.code().name}: {exc.details()}")
        return exc.code()
    text = formatting.to_json_line(response) if args.json else \
        formatting.analysis_text(str(path), response) + "\n"
    tqdm.write(text, file=sys.stdout)
    if args.draw is not None:
        return _draw(content, response, path, args.draw, drawn)
    return None


def _draw(content: bytes, response, path: Path, out_dir: Path, drawn: set[Path]):
    """Write the drawn answer; None on success, else what went wrong (the answer is printed)."""
    # imported here: OpenCV is only needed with --draw, and every xcloud command imports this
    from services.runtime.errors import XCloudError
    from xcloud.cli import drawing

    target = drawing.output_path(out_dir, path, drawn)
    try:
        drawing.write_png(drawing.draw_analysis(content, response), target)
    except (OSError, ValueError, XCloudError) as exc:
        _error(f"{path}: cannot draw to {target}: {exc}")
        return "undrawn"
    tqdm.write(f"xcloud analyze: drew {path} -> {target}", file=sys.stderr)
    return None


def _error(message: str) -> None:
    tqdm.write(f"xcloud analyze: error: {message}", file=sys.stderr)
