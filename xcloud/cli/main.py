"""XCloud from the command line: analyze images, manage identity galleries, check the stack,
list models, evaluate, train.

Global options (``--gateway``, ``--timeout``) may come before or after the subcommand.
"""
from __future__ import annotations

import argparse
import sys

from xcloud.cli import analyze, bench, gallery, health, models, train
from xcloud.cli import eval as evaluation
from xcloud.client import DEFAULT_GATEWAY, GATEWAY_ENV, default_gateway

COMMANDS = (analyze, gallery, health, models, evaluation, train, bench)
DEFAULT_TIMEOUT_S = 30.0


def _global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    suppress = argparse.SUPPRESS
    parser.add_argument(
        "--gateway", metavar="HOST:PORT", default=None if defaults else suppress,
        help=f"gateway address (default: ${GATEWAY_ENV} or {DEFAULT_GATEWAY})",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS",
        default=DEFAULT_TIMEOUT_S if defaults else suppress,
        help=f"deadline of each call (default {DEFAULT_TIMEOUT_S:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xcloud", description=__doc__.splitlines()[0])
    _global_options(parser, defaults=True)
    # The same options after the subcommand override the ones before it (SUPPRESS: unset
    # there means "keep what the main parser found").
    shared = argparse.ArgumentParser(add_help=False)
    _global_options(shared, defaults=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers, [shared])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.gateway = args.gateway or default_gateway()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `xcloud analyze *.jpg --json | head`
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
