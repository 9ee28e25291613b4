"""xcloud models: every model behind the gateway, installed or not, with its card's summary."""
from __future__ import annotations

import argparse
import sys

import grpc

from xcloud.cli import formatting
from xcloud.client import GatewayClient

SUMMARY_WIDTH = 60


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("models", parents=parents, help="list the models behind the gateway")
    p.add_argument("--json", action="store_true",
                   help="print the ListModelsResponse as canonical protobuf JSON on one line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with GatewayClient(args.gateway, args.timeout) as client:
        try:
            reply = client.list_models()
        except grpc.RpcError as exc:
            print(f"xcloud models: error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    if args.json:
        print(formatting.to_json_line(reply))
        return 0
    rows = [
        (m.service, m.model.name, m.model.version or "-", formatting.yes_no(m.installed),
         formatting.truncate(m.summary, SUMMARY_WIDTH) or "-", formatting.metrics_text(m.metrics))
        for m in reply.models
    ]
    print(formatting.table(("service", "model", "version", "installed", "summary", "metrics"), rows))
    missing = sum(not m.installed for m in reply.models)
    if missing:
        print(f"{missing} model(s) not installed: build them with `make models`")
    return 0
