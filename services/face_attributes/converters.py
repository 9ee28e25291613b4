"""Protobuf <-> domain conversion for face attributes (the only place that knows both)."""
from __future__ import annotations

from services.face_attributes.handler import Attributes, Embedding, FacesAnswer, PartOutcome
from services.face_attributes.parts import Age, Beauty, Gender, Race
from xcloud.v1 import common_pb2
from xcloud.v1 import face_attributes_pb2 as fa

EMBEDDING_TASK = "embedding"


def accurate(mode: int) -> bool:
    """FAST (and unspecified) is one pass; ACCURATE adds the mirror image."""
    return mode == fa.FACE_ATTRIBUTES_MODE_ACCURATE


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
            probabilities=[fa.RaceProbability(label=k, probability=p)
                           for k, p in value.probabilities],
        ))
    elif isinstance(value, Beauty):
        result.beauty.score = value.score
    else:
        raise TypeError(f"no field for a part value of type {type(value).__name__}")


def _joined_model(answered: list[PartOutcome]) -> common_pb2.ModelInfo:
    models = dict.fromkeys((o.model, o.version) for o in answered)  # in part order, no repeats
    return common_pb2.ModelInfo(name="+".join(m for m, _ in models),
                                version="+".join(v for _, v in models))


def _result(attributes: Attributes) -> fa.FaceAttributesResult:
    result = fa.FaceAttributesResult(statuses=[_status(o) for o in attributes.parts])
    for outcome in attributes.answered():
        _fill(result, outcome.value)
    return result


def attributes_to_proto(attributes: Attributes) -> fa.FaceAttributesResponse:
    """The single-face answer (request field ``face``)."""
    return fa.FaceAttributesResponse(attributes=_result(attributes),
                                     model=_joined_model(attributes.answered()))


def answer_to_proto(answer: FacesAnswer, batched: bool,
                    with_embedding: bool) -> fa.FaceAttributesResponse:
    """Predict's answer: ``attributes`` for ``face``, ``results`` for ``faces``; with
    ``with_embedding`` the embeddings and their status too."""
    first = answer.attributes[0] if answer.attributes else Attributes([])
    response = fa.FaceAttributesResponse(model=_joined_model(first.answered()))
    if batched:
        response.results.extend(_result(a) for a in answer.attributes)
    elif answer.attributes:
        response.attributes.CopyFrom(_result(first))
    if with_embedding:
        response.embeddings.extend(_embedding(e) for e in answer.embeddings)
        response.embedding_status.CopyFrom(_embedding_status(answer))
    return response


def _embedding_status(answer: FacesAnswer) -> common_pb2.TaskStatus:
    error = answer.embedding_error
    if error is not None:
        return common_pb2.TaskStatus(task=EMBEDDING_TASK, code=error.code.value[0],
                                     message=error.message)
    model = answer.embeddings[0] if answer.embeddings else None
    info = common_pb2.ModelInfo(name=model.model, version=model.version) if model else None
    return common_pb2.TaskStatus(task=EMBEDDING_TASK, model=info)


def _embedding(result: Embedding) -> fa.FaceEmbedding:
    model = common_pb2.ModelInfo(name=result.model, version=result.version)
    return fa.FaceEmbedding(values=result.values.tolist(),
                            same_person_distance=result.same_person_distance, model=model)


def embeddings_to_proto(found: list[Embedding], batched: bool) -> fa.FaceEmbeddingResponse:
    """Embed's answer: ``embedding`` for ``face``, ``embeddings`` for ``faces``."""
    response = fa.FaceEmbeddingResponse()
    if found:
        response.model.CopyFrom(common_pb2.ModelInfo(name=found[0].model, version=found[0].version))
    if batched:
        response.embeddings.extend(_embedding(e) for e in found)
    elif found:
        response.embedding.CopyFrom(_embedding(found[0]))
    return response


def embedding_to_proto(result: Embedding) -> fa.FaceEmbeddingResponse:
    """The single-face answer (request field ``face``)."""
    return embeddings_to_proto([result], batched=False)
