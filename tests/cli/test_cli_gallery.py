"""`xcloud gallery` arguments and failures without servers; the full round trip against a real
gateway, identity service and PostgreSQL is in tests/gateway/test_gateway_gallery.py."""
from __future__ import annotations

import socket

import pytest

from xcloud.cli.main import build_parser, main
from xcloud.v1 import animal_identity_pb2 as pb


def test_create_offers_every_collection_kind_of_the_proto(capsys):
    kinds = [name for name, value in pb.CollectionKind.items() if value]
    assert kinds, "the proto names no collection kind"
    for name in kinds:
        word = name.removeprefix("COLLECTION_KIND_").lower()
        args = build_parser().parse_args(["gallery", "create", "c", "--kind", word])
        assert args.kind == word
    with pytest.raises(SystemExit):
        build_parser().parse_args(["gallery", "create", "c", "--kind", "unspecified"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_identity_service_cannot_be_named_any_more(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["gallery", "--identity", "127.0.0.1:50056", "list"])
    assert "xcloud gallery: error:" in capsys.readouterr().err


def test_identify_and_verify_take_their_arguments():
    args = build_parser().parse_args(["gallery", "identify", "people", "a.jpg", "b.jpg", "--json",
                                      "--top-k", "3"])
    assert (args.name, [str(p) for p in args.images], args.json, args.top_k) == \
        ("people", ["a.jpg", "b.jpg"], True, 3)
    args = build_parser().parse_args(["gallery", "verify", "people", "alice", "a.jpg"])
    assert (args.name, args.subject, str(args.image)) == ("people", "alice", "a.jpg")


def test_an_unreachable_gateway_is_a_clean_error(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"not even an image")
    assert main(["--gateway", dead, "--timeout", "2", "gallery", "identify", "c", str(photo)]) == 1
    assert "xcloud gallery: error: UNAVAILABLE" in capsys.readouterr().err
    assert main(["--gateway", dead, "gallery", "verify", "c", "s",
                 str(tmp_path / "missing.jpg")]) == 1
    assert "cannot read" in capsys.readouterr().err
