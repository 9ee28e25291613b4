"""Protobuf <-> domain conversion for face attributes (the only place that knows both)."""
from __future__ import annotations

from services.face_attributes.handler import Attributes, Embedding, PartOutcome
from services.face_attributes.parts import Age, Beauty, Gender, Race
from xcloud.v1 import common_pb2
from xcloud.v1 import face_attributes_pb2 as fa


def _status(outcome: PartOutcome) -> common_pb2.TaskStatus:
    status = common_pb2.TaskStatus(
        task=outcome.part, model=common_pb2.ModelInfo(name=outcome.model, version=outcome.version)
    )
    if outcome.error is not None:
        status.code = outcome.error.code.value[0]  # grpc.StatusCode values are (number, name)
        status.message = outcome.error.message
    return status


def _fill(result: fa.FaceAttributesResult, value: object) -> None:
    if isinstance(value, Age):
        result.age.years = value.years
    elif isinstance(value, Gender):
        result.gender.CopyFrom(fa.GenderEstimate(label=value.label, probability=value.probability))
    elif isinstance(value, Race):
        result.race.CopyFrom(fa.RaceEstimate(
            label=value.label, probability=value.probability,
            probabilities=[fa.RaceProbability(label=k, probability=p) for k, p in value.probabilities],
        ))
    elif isinstance(value, Beauty):
        result.beauty.score = value.score
    else:
        raise TypeError(f"no field for a part value of type {type(value).__name__}")


def _joined_model(answered: list[PartOutcome]) -> common_pb2.ModelInfo:
    models = dict.fromkeys((o.model, o.version) for o in answered)  # in part order, no repeats
    return common_pb2.ModelInfo(name="+".join(m for m, _ in models),
                                version="+".join(v for _, v in models))


def attributes_to_proto(attributes: Attributes) -> fa.FaceAttributesResponse:
    result = fa.FaceAttributesResult(statuses=[_status(o) for o in attributes.parts])
    for outcome in attributes.answered():
        _fill(result, outcome.value)
    return fa.FaceAttributesResponse(attributes=result, model=_joined_model(attributes.answered()))


def embedding_to_proto(result: Embedding) -> fa.FaceEmbeddingResponse:
    model = common_pb2.ModelInfo(name=result.model, version=result.version)
    embedding = fa.FaceEmbedding(
        values=result.values.tolist(), same_person_distance=result.same_person_distance, model=model
    )
    return fa.FaceEmbeddingResponse(embedding=embedding, model=model)
