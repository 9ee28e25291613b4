"""The per-face tasks served in one call per backend per Analyze: every face's crop in one
request (faces are the batch axis), answers in the same order. Attributes and embedding both
live on face_attributes and share its call: Predict with ``with_embedding`` answers both (with
the shared trunk, from one inference per face), Embed alone when only the embedding is asked.
"""
from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from gateway.clients import BackendClient, Deadline, Metadata
from gateway.tasks import (
    FACE_CROP_SIDE,
    AnalyzeOptions,
    Batched,
    FaceCall,
    Scope,
    TaskSpec,
    into_field,
)
from xcloud.v1 import common_pb2, expression_pb2
from xcloud.v1 import face_attributes_pb2 as fa


async def _face_attributes(client: BackendClient, crops: Sequence[common_pb2.RawImage],
                           options: AnalyzeOptions, tasks: frozenset[str], deadline: Deadline,
                           metadata: Metadata) -> Message:
    """Attributes and embedding of every face in one call: Predict (with the embeddings when
    both are asked for), or Embed when only the embedding is."""
    mode = options.attributes_mode
    if "attributes" in tasks:
        request = fa.FaceAttributesRequest(faces=crops, mode=mode,
                                           with_embedding="embedding" in tasks)
        return await client.call("/xcloud.v1.FaceAttributes/Predict", request,
                                 fa.FaceAttributesResponse, deadline, metadata)
    request = fa.FaceEmbeddingRequest(faces=crops, mode=mode)
    return await client.call("/xcloud.v1.FaceAttributes/Embed", request,
                             fa.FaceEmbeddingResponse, deadline, metadata)


async def _expression(client: BackendClient, crops: Sequence[common_pb2.RawImage],
                      options: AnalyzeOptions, tasks: frozenset[str], deadline: Deadline,
                      metadata: Metadata) -> Message:
    return await client.call("/xcloud.v1.Expression/Classify",
                             expression_pb2.ExpressionRequest(faces=crops),
                             expression_pb2.ExpressionResponse, deadline, metadata)


FACE_ATTRIBUTES_CALL = FaceCall("face_attributes", _face_attributes)
EXPRESSION_CALL = FaceCall("expression", _expression)


def _attributes_failure(response: Message) -> common_pb2.TaskStatus | None:
    """No part answered (the call still succeeded for the embedding): the first part's why."""
    results = getattr(response, "results", [])
    statuses = [s for r in results[:1] for s in r.statuses]
    if not statuses or any(s.code == common_pb2.STATUS_CODE_OK for s in statuses):
        return None
    return statuses[0]


def _embedding_failure(response: Message) -> common_pb2.TaskStatus | None:
    """Predict with the embeddings says in embedding_status when they could not be computed."""
    if not isinstance(response, fa.FaceAttributesResponse):
        return None
    status = response.embedding_status
    return status if status.code != common_pb2.STATUS_CODE_OK else None


def _embedding_model(response: Message) -> common_pb2.ModelInfo:
    embeddings = response.embeddings
    return embeddings[0].model if embeddings else common_pb2.ModelInfo()


def _mode_key(options: AnalyzeOptions) -> bytes:
    return str(options.attributes_mode).encode()


ATTRIBUTES = TaskSpec(
    name="attributes", backend="face_attributes", scope=Scope.PER_FACE,
    batched=Batched(FACE_ATTRIBUTES_CALL, answers=lambda r: r.results,
                    failure=_attributes_failure),
    merge=into_field("attributes"), aligned_size=FACE_CROP_SIDE, options_key=_mode_key,
)
EXPRESSION = TaskSpec(
    name="expression", backend="expression", scope=Scope.PER_FACE,
    batched=Batched(EXPRESSION_CALL, answers=lambda r: r.results),
    merge=into_field("expression"), aligned_size=FACE_CROP_SIDE,
)
EMBEDDING = TaskSpec(
    name="embedding", backend="face_attributes", scope=Scope.PER_FACE,
    batched=Batched(FACE_ATTRIBUTES_CALL, answers=lambda r: r.embeddings,
                    model=_embedding_model, failure=_embedding_failure),
    merge=into_field("embedding"), aligned_size=FACE_CROP_SIDE, options_key=_mode_key,
)
