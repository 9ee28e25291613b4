"""Protobuf <-> domain conversion for animal identity (the only place that knows both)."""
from __future__ import annotations

from services.animal_identity.embedding import ANIMAL, FACE, GENERIC, Payload, RawFace
from services.animal_identity.handler import (
    CollectionInfo,
    EnrollResult,
    IdentifyResult,
    Match,
    SubjectPage,
    VerifyResult,
)
from services.runtime.errors import InvalidInput
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import common_pb2

KINDS = {pb.COLLECTION_KIND_FACE: FACE, pb.COLLECTION_KIND_GENERIC: GENERIC,
         pb.COLLECTION_KIND_ANIMAL: ANIMAL}
KIND_VALUES = {kind: value for value, kind in KINDS.items()}


def kind_from_proto(value: int) -> str:
    if value not in KINDS:
        raise InvalidInput("kind must be COLLECTION_KIND_FACE, COLLECTION_KIND_GENERIC or "
                           "COLLECTION_KIND_ANIMAL")
    return KINDS[value]


def box_from_proto(box: common_pb2.BoundingBox) -> tuple[float, float, float, float]:
    if not (box.x_max > box.x_min and box.y_max > box.y_min):
        raise InvalidInput(f"box needs x_max > x_min and y_max > y_min, got {box}".strip())
    return box.x_min, box.y_min, box.x_max, box.y_max


def payload_from_proto(images, faces, boxes=()) -> Payload:
    return Payload(images=tuple(image.content for image in images),
                   faces=tuple(RawFace(f.width, f.height, f.rgb) for f in faces),
                   boxes=tuple(box_from_proto(b) for b in boxes))


def single_payload(request) -> Payload:
    """The query of an Identify or Verify request: whichever of image and face is set."""
    return payload_from_proto([request.image] if request.HasField("image") else [],
                              [request.face] if request.HasField("face") else [],
                              [request.box] if request.HasField("box") else [])


def model_info(name: str, version: str) -> common_pb2.ModelInfo:
    return common_pb2.ModelInfo(name=name, version=version)


def collection_to_proto(info: CollectionInfo) -> pb.Collection:
    return pb.Collection(name=info.name, kind=KIND_VALUES[info.kind],
                         model=model_info(info.model, info.version),
                         dimension=info.dimension, threshold=info.threshold,
                         revision=info.revision, target_far=info.target_far)


def enroll_to_proto(result: EnrollResult) -> pb.EnrollResponse:
    return pb.EnrollResponse(enrolled=result.enrolled, subject_embeddings=result.subject_embeddings,
                             model=model_info(result.model, result.version))


def match_to_proto(match: Match) -> pb.Match:
    return pb.Match(subject=match.subject, distance=match.distance, score=match.score,
                    same_subject=match.same_subject, inliers=match.inliers)


def identify_to_proto(result: IdentifyResult) -> pb.IdentifyResponse:
    return pb.IdentifyResponse(matches=[match_to_proto(m) for m in result.matches],
                               model=model_info(result.model, result.version),
                               threshold=result.threshold)


def verify_to_proto(result: VerifyResult) -> pb.VerifyResponse:
    match = result.match
    return pb.VerifyResponse(same_subject=match.same_subject, distance=match.distance,
                             threshold=result.threshold, score=match.score,
                             model=model_info(result.model, result.version))


def subjects_to_proto(page: SubjectPage) -> pb.ListSubjectsResponse:
    return pb.ListSubjectsResponse(
        subjects=[pb.Subject(subject=s, embeddings=n) for s, n in page.subjects],
        next_page_token=page.next_page_token,
        model=model_info(page.collection.model, page.collection.version),
    )


def deleted_subject_to_proto(deleted: int, info: CollectionInfo) -> pb.DeleteSubjectResponse:
    return pb.DeleteSubjectResponse(deleted_embeddings=deleted,
                                    model=model_info(info.model, info.version))
