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


def _stub(args: argparse.Namespace) -> animal_identity_pb2_grpc.AnimalIdentityStub:
    address = args.identity or os.environ.get(IDENTITY_ENV) or DEFAULT_IDENTITY
    return animal_identity_pb2_grpc.AnimalIdentityStub(open_channel(address))


def _call(args: argparse.Namespace, method: str, request):
    metadata = (("x-tenant-id", args.tenant),) if args.tenant else ()
    return getattr(_stub(args), method)(request, timeout=args.timeout, metadata=metadata)


def _create(args: argparse.Namespace) -> None:
    found = _call(args, "CreateCollection", pb.CreateCollectionRequest(
        name=args.name, kind=KINDS[args.kind])).collection
    print(f"created {found.name}: {args.kind}, model {found.model.name} v{found.model.version}, "
          f"{found.dimension}-d, same subject below distance {found.threshold:g}")


def _enroll(args: argparse.Namespace) -> None:
    kind = _call(args, "GetCollection", pb.GetCollectionRequest(name=args.name)).collection.kind
    request = pb.EnrollRequest(collection=args.name, subject=args.subject)
    for path in args.images:
        content = _read(path)
        if kind == pb.COLLECTION_KIND_FACE:
            request.faces.append(_largest_face(args, path, content))
        else:
            request.images.append(common_pb2.Image(content=content))
    reply = _call(args, "Enroll", request)
    print(f"enrolled {reply.enrolled} image(s) of {args.subject}; it has "
          f"{reply.subject_embeddings} embedding(s) in {args.name}")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _largest_face(args: argparse.Namespace, path: Path, content: bytes) -> common_pb2.RawImage:
    request = analyze_request(content, ["detection"])
    request.options.detection.aligned_size = ENROLL_CROP_SIDE
    request.options.detection.aligned_margin = SHARED_CROP_MARGIN
    with GatewayClient(args.gateway, args.timeout) as client:
        faces = client.analyze(request).faces
    if not faces:
        raise UsageError(f"{path}: no face found")
    return max(faces, key=lambda f: _area(f.face.box)).face.aligned


def _area(box: common_pb2.BoundingBox) -> float:
    return (box.x_max - box.x_min) * (box.y_max - box.y_min)


def _list(args: argparse.Namespace) -> None:
    if args.name is None:
        reply = _call(args, "ListCollections", pb.ListCollectionsRequest())
        rows = [(c.name, pb.CollectionKind.Name(c.kind).removeprefix("COLLECTION_KIND_").lower(),
                 c.model.name, c.dimension, c.revision) for c in reply.collections]
        print(formatting.table(("collection", "kind", "model", "dimension", "revision"), rows))
        return
    token = ""
    while True:
        page = _call(args, "ListSubjects", pb.ListSubjectsRequest(collection=args.name,
                                                                  page_token=token))
        for subject in page.subjects:
            print(f"{subject.subject}\t{subject.embeddings}")
        token = page.next_page_token
        if not token:
            return


def _delete(args: argparse.Namespace) -> None:
    if args.subject is None:
        _call(args, "DeleteCollection", pb.DeleteCollectionRequest(name=args.name))
        print(f"deleted collection {args.name}")
        return
    reply = _call(args, "DeleteSubject", pb.DeleteSubjectRequest(collection=args.name,
                                                                 subject=args.subject))
    print(f"deleted {args.subject}: {reply.deleted_embeddings} embedding(s)")


def run(args: argparse.Namespace) -> int:
    try:
        args.run_action(args)
    except UsageError as exc:
        print(f"xcloud gallery: error: {exc}", file=sys.stderr)
        return 1
    except grpc.RpcError as exc:
        print(f"xcloud gallery: error: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 1
    return 0
