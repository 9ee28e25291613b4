"""xcloud gallery: identity collections on the animal_identity service (create, enroll, list,
delete), so that `xcloud analyze --collection NAME` can name the faces it finds.

FACE enrolment sends each image through the gateway's detection first and enrols its largest
face's aligned crop: the gallery then holds exactly what the gateway's identify task searches
with. GENERIC enrolment sends the encoded images as they are.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc

from services.runtime.alignment import SHARED_CROP_MARGIN
from xcloud.cli import formatting
from xcloud.client import GatewayClient, analyze_request, open_channel
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import animal_identity_pb2_grpc, common_pb2

IDENTITY_ENV = "XCLOUD_IDENTITY"
DEFAULT_IDENTITY = "127.0.0.1:50056"
KINDS = {"face": pb.COLLECTION_KIND_FACE, "generic": pb.COLLECTION_KIND_GENERIC}
ENROLL_CROP_SIDE = 224  # the side the gateway's identify task sends


class UsageError(Exception):
    """Something the user can fix (an unreadable image, no face in it)."""


def add_parser(subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "gallery", parents=parents, help="identity collections: create, enroll, list, delete",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--identity", metavar="HOST:PORT", default=None,
                   help=f"animal_identity service (default: ${IDENTITY_ENV} or {DEFAULT_IDENTITY})")
    p.add_argument("--tenant", default="", help="tenant of the calls (default: the service's)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a collection")
    create.add_argument("name")
    create.add_argument("--kind", choices=sorted(KINDS), default="face")
    create.set_defaults(run_action=_create)
    enroll = actions.add_parser("enroll", help="enrol a subject from example images")
    enroll.add_argument("name")
    enroll.add_argument("subject")
    enroll.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    enroll.set_defaults(run_action=_enroll)
    listing = actions.add_parser("list", help="the collections, or the subjects of one")
    listing.add_argument("name", nargs="?")
    listing.set_defaults(run_action=_list)
    delete = actions.add_parser("delete", help="delete a collection, or one subject of it")
    delete.add_argument("name")
    delete.add_argument("subject", nargs="?")
    delete.set_defaults(run_action=_delete)
    p.set_defaults(run=run)


class Identity:
    """The animal_identity service for one command: one channel, the caller's tenant."""

    def __init__(self, args: argparse.Namespace):
        address = args.identity or os.environ.get(IDENTITY_ENV) or DEFAULT_IDENTITY
        self._channel = open_channel(address)
        self._stub = animal_identity_pb2_grpc.AnimalIdentityStub(self._channel)
        self._metadata = (("x-tenant-id", args.tenant),) if args.tenant else ()
        self._timeout = args.timeout

    def __call__(self, method: str, request):
        return getattr(self._stub, method)(request, timeout=self._timeout, metadata=self._metadata)

    def close(self) -> None:
        self._channel.close()


def _create(args: argparse.Namespace, call: Identity) -> None:
    found = call("CreateCollection", pb.CreateCollectionRequest(
        name=args.name, kind=KINDS[args.kind])).collection
    print(f"created {found.name}: {args.kind}, model {found.model.name} v{found.model.version}, "
          f"{found.dimension}-d, same subject below distance {found.threshold:g}")


def _enroll(args: argparse.Namespace, call: Identity) -> None:
    kind = call("GetCollection", pb.GetCollectionRequest(name=args.name)).collection.kind
    request = pb.EnrollRequest(collection=args.name, subject=args.subject)
    with GatewayClient(args.gateway, args.timeout) as gateway:
        for path in args.images:
            content = _read(path)
            if kind == pb.COLLECTION_KIND_FACE:
                request.faces.append(_largest_face(gateway, path, content))
            else:
                request.images.append(common_pb2.Image(content=content))
    reply = call("Enroll", request)
    print(f"enrolled {reply.enrolled} image(s) of {args.subject}; it has "
          f"{reply.subject_embeddings} embedding(s) in {args.name}")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _largest_face(gateway: GatewayClient, path: Path, content: bytes) -> common_pb2.RawImage:
    request = analyze_request(content, ["detection"])
    request.options.detection.aligned_size = ENROLL_CROP_SIDE
    request.options.detection.aligned_margin = SHARED_CROP_MARGIN
    faces = gateway.analyze(request).faces
    if not faces:
        raise UsageError(f"{path}: no face found")
    return max(faces, key=lambda f: _area(f.face.box)).face.aligned


def _area(box: common_pb2.BoundingBox) -> float:
    return (box.x_max - box.x_min) * (box.y_max - box.y_min)


def _list(args: argparse.Namespace, call: Identity) -> None:
    if args.name is None:
        reply = call("ListCollections", pb.ListCollectionsRequest())
        rows = [(c.name, pb.CollectionKind.Name(c.kind).removeprefix("COLLECTION_KIND_").lower(),
                 c.model.name, c.dimension, c.revision) for c in reply.collections]
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


def _delete(args: argparse.Namespace, call: Identity) -> None:
    if args.subject is None:
        call("DeleteCollection", pb.DeleteCollectionRequest(name=args.name))
        print(f"deleted collection {args.name}")
        return
    reply = call("DeleteSubject", pb.DeleteSubjectRequest(collection=args.name,
                                                        subject=args.subject))
    print(f"deleted {args.subject}: {reply.deleted_embeddings} embedding(s)")


def run(args: argparse.Namespace) -> int:
    identity = Identity(args)
    try:
        args.run_action(args, identity)
    except UsageError as exc:
        print(f"xcloud gallery: error: {exc}", file=sys.stderr)
        return 1
    except grpc.RpcError as exc:
        print(f"xcloud gallery: error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    finally:
        identity.close()
    return 0
