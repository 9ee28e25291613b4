"""xcloud gallery: identity collections through the gateway (create, enroll, identify, verify,
list, delete), so that `xcloud analyze --collection NAME` can name the faces it finds.

Every call goes to the gateway, which scopes it to the tenant of $XCLOUD_API_KEY (or, on a
gateway without keys, to --tenant). Images are sent as they are: for FACE collections the
gateway finds the largest face, checks its quality (enrolment refuses a face too small, too
blurred or turned away, saying which) and enrols or searches its aligned crop.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grpc
from google.protobuf import json_format

from xcloud.cli import formatting
from xcloud.client import GatewayClient, request_metadata
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import common_pb2

PREFIX = "COLLECTION_KIND_"
# Read from the proto's enum, so that a kind added there is offered here at once.
KINDS = {name.removeprefix(PREFIX).lower(): value
         for name, value in pb.CollectionKind.items() if value != pb.COLLECTION_KIND_UNSPECIFIED}


class UsageError(Exception):
    """Something the user can fix (an unreadable image)."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "gallery", parents=parents, help="identity collections: create, enroll, identify, verify, "
        "list, delete", description=__doc__.splitlines()[0],
    )
    p.add_argument("--tenant", default="", help="tenant of the calls on a gateway without API "
                   "keys (with keys on, the key's tenant is used and this is ignored)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a collection")
    create.add_argument("name")
    create.add_argument("--kind", choices=sorted(KINDS), default="face")
    create.add_argument("--far", type=float, default=0.0, metavar="RATE",
                        help="operating point: the false-accept rate the threshold is "
                        "calibrated for (faces: 0.01, 0.001, 0.0001; default: the model's)")
    create.set_defaults(run_action=_create)
    enroll = actions.add_parser("enroll", help="enrol a subject from example images")
    enroll.add_argument("name")
    enroll.add_argument("subject")
    enroll.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    enroll.set_defaults(run_action=_enroll)
    identify = actions.add_parser("identify", help="the nearest subjects of each image")
    identify.add_argument("name")
    identify.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    identify.add_argument("--top-k", type=int, default=0, help="subjects per image (default 5)")
    identify.add_argument("--json", action="store_true", help="one JSON object per image")
    identify.set_defaults(run_action=_identify)
    verify = actions.add_parser("verify", help="is the image of this subject?")
    for name in ("name", "subject"):
        verify.add_argument(name)
    verify.add_argument("image", type=Path, metavar="IMAGE")
    verify.set_defaults(run_action=_verify)
    _add_list_and_delete(actions)
    p.set_defaults(run=run)


def _add_list_and_delete(actions) -> None:
    listing = actions.add_parser("list", help="the collections, or the subjects of one")
    listing.add_argument("name", nargs="?")
    listing.set_defaults(run_action=_list)
    delete = actions.add_parser("delete", help="delete a collection, or one subject of it")
    delete.add_argument("name")
    delete.add_argument("subject", nargs="?")
    delete.set_defaults(run_action=_delete)


class Gallery:
    """The gateway's gallery RPCs for one command: one channel, the key and the tenant."""

    def __init__(self, args: argparse.Namespace):
        self._client = GatewayClient(args.gateway, args.timeout)
        self._tenant = (("x-tenant-id", args.tenant),) if args.tenant else ()

    def __call__(self, method: str, request):
        metadata = request_metadata(api_key=self._client.api_key) + self._tenant
        return getattr(self._client.stub, method)(request, timeout=self._client.timeout,
                                                  metadata=metadata)

    def close(self) -> None:
        self._client.close()


def _kind_name(kind: int) -> str:
    return pb.CollectionKind.Name(kind).removeprefix(PREFIX).lower()


def _create(args: argparse.Namespace, call: Gallery) -> None:
    found = call("CreateCollection", pb.CreateCollectionRequest(
        name=args.name, kind=KINDS[args.kind], target_far=args.far)).collection
    far = f" (FAR {found.target_far:g})" if found.target_far else ""
    print(f"created {found.name}: {_kind_name(found.kind)}, model {found.model.name} "
          f"v{found.model.version}, {found.dimension}-d, same subject below distance "
          f"{found.threshold:g}{far}")


def _enroll(args: argparse.Namespace, call: Gallery) -> None:
    images = [common_pb2.Image(content=_read(path)) for path in args.images]
    reply = call("Enroll", pb.EnrollRequest(collection=args.name, subject=args.subject,
                                            images=images)).enrollment
    print(f"enrolled {reply.enrolled} image(s) of {args.subject}; it has "
          f"{reply.subject_embeddings} embedding(s) in {args.name}")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _identify(args: argparse.Namespace, call: Gallery) -> None:
    for path in args.images:
        reply = call("Identify", pb.IdentifyRequest(
            collection=args.name, image=common_pb2.Image(content=_read(path)), top_k=args.top_k))
        if args.json:
            print(_json_line(path, reply))
            continue
        matches = ", ".join(f"{m.subject} (distance {m.distance:.3f}, score {m.score:.2f}, "
                            f"{'same' if m.same_subject else 'other'})"
                            for m in reply.identity.matches)
        print(f"{path}: {matches or 'no subjects'}{_quality_note(reply)}")


def _json_line(path: Path, reply) -> str:
    """{"image", "matches", "model", "threshold"[, "quality"]}: false flags printed too."""
    found = json_format.MessageToDict(reply, always_print_fields_with_no_presence=True)
    line = {"image": str(path), **found.get("identity", {})}
    if "quality" in found:
        line["quality"] = found["quality"]
    return json.dumps(line, sort_keys=True)


def _quality_note(reply) -> str:
    if not reply.HasField("quality") or reply.quality.reliable:
        return ""
    return f" [unreliable probe: {reply.quality.reason}]"


def _verify(args: argparse.Namespace, call: Gallery) -> None:
    reply = call("Verify", pb.VerifyRequest(collection=args.name, subject=args.subject,
                                            image=common_pb2.Image(content=_read(args.image))))
    found = reply.verification
    verdict = "same subject" if found.same_subject else "not the same subject"
    print(f"{args.image}: {verdict} as {args.subject} (distance {found.distance:.3f}, threshold "
          f"{found.threshold:g}, score {found.score:.2f}){_quality_note(reply)}")


def _list(args: argparse.Namespace, call: Gallery) -> None:
    if args.name is None:
        reply = call("ListCollections", pb.ListCollectionsRequest())
        rows = [(c.name, _kind_name(c.kind), c.model.name, c.dimension, c.revision)
                for c in reply.collections]
        print(formatting.table(("collection", "kind", "model", "dimension", "revision"), rows))
        return
    token = ""
    while True:
        page = call("ListSubjects", pb.ListSubjectsRequest(collection=args.name, page_token=token))
        for subject in page.subjects:
            print(f"{subject.subject}\t{subject.embeddings}")
        token = page.next_page_token
        if not token:
            return


def _delete(args: argparse.Namespace, call: Gallery) -> None:
    if args.subject is None:
        call("DeleteCollection", pb.DeleteCollectionRequest(name=args.name))
        print(f"deleted collection {args.name}")
        return
    reply = call("DeleteSubject", pb.DeleteSubjectRequest(collection=args.name,
                                                        subject=args.subject))
    print(f"deleted {args.subject}: {reply.deleted_embeddings} embedding(s)")


def run(args: argparse.Namespace) -> int:
    gallery = Gallery(args)
    try:
        args.run_action(args, gallery)
    except UsageError as exc:
        print(f"xcloud gallery: error: {exc}", file=sys.stderr)
        return 1
    except grpc.RpcError as exc:
        print(f"xcloud gallery: error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    finally:
        gallery.close()
    return 0

