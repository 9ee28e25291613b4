"""The task registry: which backend serves each task and how its answer joins the response.

Adding a task is one ``TaskSpec`` in ``default_registry`` plus its field in gateway.proto, e.g.

    TaskSpec("expression", "expression", Scope.PER_FACE,
             call=unary("/xcloud.v1.Expression/Classify",
                        _face_request(expression_pb2.ExpressionRequest),
                        expression_pb2.ExpressionResponse),
             merge=into_field("expression", "expression"), aligned_size=FACE_CROP_SIDE)

The orchestration (gateway/analyze.py) knows only the three scopes, never a task by name.
"""
from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.message import Message

from gateway.auth import TENANT_HEADER
from gateway.clients import BackendClient, BackendError, Deadline, Metadata
from services.runtime.errors import InvalidInput
from xcloud.v1 import (
    animal_identity_pb2,
    common_pb2,
    expression_pb2,
    face_attributes_pb2,
    face_detection_pb2,
    fine_grained_pb2,
    gateway_pb2,
)

AnalyzeOptions = gateway_pb2.AnalyzeOptions
# (client, payload, options, deadline, metadata) -> backend response. The payload is the
# encoded Image for DETECTION and WHOLE_IMAGE tasks, the aligned crop RawImage for PER_FACE.
Call = Callable[[BackendClient, Message, AnalyzeOptions, Deadline, Metadata], Awaitable[Message]]
# (target, backend response): target is the FaceAnalysis of one face for PER_FACE tasks and
# the AnalyzeResponse for WHOLE_IMAGE tasks.
Merge = Callable[[Message, Message], None]
OptionsKey = Callable[[AnalyzeOptions], bytes]
# (client, options, deadline, metadata) -> what else the answer depends on, asked of the
# backend once per request (an identity collection's revision); part of the cache key. It
# raises BackendError when the task cannot run (that becomes the task's status).
StateKey = Callable[[BackendClient, AnalyzeOptions, Deadline, Metadata], Awaitable[bytes]]


class Scope(enum.Enum):
    DETECTION = "detection"      # finds the faces; runs at most once per request
    WHOLE_IMAGE = "whole_image"  # takes the encoded image; runs in parallel with detection
    PER_FACE = "per_face"        # takes one face's aligned crop; fans out after detection


def no_options(options: AnalyzeOptions) -> bytes:
    return b""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    backend: str             # key of GatewaySettings.backends
    scope: Scope
    call: Call
    merge: Merge | None = None
    aligned_size: int = 0    # PER_FACE: side of the aligned crop the backend takes
    options_key: OptionsKey = no_options  # the options that change this task's answer
    state_key: StateKey | None = None     # backend state that changes it (see StateKey)
    only_when_named: bool = False         # not part of "every task": it needs options

    def __post_init__(self) -> None:
        if self.scope is Scope.PER_FACE and self.aligned_size <= 0:
            raise ValueError(f"per-face task {self.name} must say which aligned_size it takes")
        if self.scope is not Scope.DETECTION and self.merge is None:
            raise ValueError(f"task {self.name} must say how its answer is merged")


def unary(method: str, build_request: Callable[[Message, AnalyzeOptions], Message],
          response_type: type[Message]) -> Call:
    """The usual call: one unary RPC whose request is built from the payload and options."""

    async def call(client: BackendClient, payload: Message, options: AnalyzeOptions,
                   deadline: Deadline, metadata: Metadata) -> Message:
        request = build_request(payload, options)
        return await client.call(method, request, response_type, deadline, metadata)

    return call


def into_field(field: str, part: str = "") -> Merge:
    """Merge the response (or its sub-message ``part``) into ``target.<field>``."""

    def merge(target: Message, response: Message) -> None:
        getattr(target, field).MergeFrom(getattr(response, part) if part else response)

    return merge


def options_field(name: str) -> OptionsKey:
    """Key on one sub-message of AnalyzeOptions, serialized deterministically."""
    return lambda options: getattr(options, name).SerializeToString(deterministic=True)


def model_of(response: Message) -> common_pb2.ModelInfo:
    """Backends name their model in a ``model`` field of type ModelInfo; others name none."""
    model = getattr(response, "model", None)
    return model if isinstance(model, common_pb2.ModelInfo) else common_pb2.ModelInfo()


class TaskRegistry:
    def __init__(self, specs: Iterable[TaskSpec] = ()):
        self._specs: dict[str, TaskSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: TaskSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"task {spec.name} is already registered")
        if spec.scope is Scope.DETECTION and self.detection() is not None:
            raise ValueError("only one task can find the faces")
        self._specs[spec.name] = spec

    def names(self) -> list[str]:
        return list(self._specs)

    def get(self, name: str) -> TaskSpec:
        return self._specs[name]

    def detection(self) -> TaskSpec | None:
        return next((s for s in self._specs.values() if s.scope is Scope.DETECTION), None)

    def for_backend(self, backend: str) -> list[str]:
        return [s.name for s in self._specs.values() if s.backend == backend]

    def resolve(self, requested: Sequence[str], configured: Collection[str]) -> list[TaskSpec]:
        """Requested tasks in request order without repeats; none = every configured task
        that can run without options of its own."""
        if not requested:
            return [s for s in self._specs.values()
                    if s.backend in configured and not s.only_when_named]
        unknown = [name for name in requested if name not in self._specs]
        if unknown:
            raise InvalidInput(
                f"unknown task(s) {', '.join(map(repr, unknown))}; known tasks: "
                f"{', '.join(self._specs)}"
            )
        return [self._specs[name] for name in dict.fromkeys(requested)]


def _detect_request(image: Message, options: AnalyzeOptions) -> face_detection_pb2.DetectRequest:
    return face_detection_pb2.DetectRequest(image=image, options=options.detection)


DETECTION = TaskSpec(
    name="detection",
    backend="face_detection",
    scope=Scope.DETECTION,
    call=unary("/xcloud.v1.FaceDetection/Detect", _detect_request,
               face_detection_pb2.DetectResponse),
    options_key=options_field("detection"),
)


def _classify_request(image: Message, options: AnalyzeOptions
                      ) -> fine_grained_pb2.FineGrainedClassifyRequest:
    return fine_grained_pb2.FineGrainedClassifyRequest(
        image=image, model=options.fine_grained.model, top_k=options.fine_grained.top_k
    )


FINE_GRAINED = TaskSpec(
    name="fine_grained",
    backend="fine_grained",
    scope=Scope.WHOLE_IMAGE,
    call=unary("/xcloud.v1.FineGrained/Classify", _classify_request,
               fine_grained_pb2.FineGrainedClassifyResponse),
    merge=into_field("fine_grained"),
    options_key=options_field("fine_grained"),
)


# Per-face tasks get the face's aligned crop (SHARED_CROP_MARGIN framing) at this side and
# cut their own view out of it; 224 px leaves every model's input size some headroom.
FACE_CROP_SIDE = 224


def _face_request(request_type: type[Message]) -> Callable[[Message, AnalyzeOptions], Message]:
    return lambda face, options: request_type(face=face)


ATTRIBUTES = TaskSpec(
    name="attributes", backend="face_attributes", scope=Scope.PER_FACE,
    call=unary("/xcloud.v1.FaceAttributes/Predict",
               _face_request(face_attributes_pb2.FaceAttributesRequest),
               face_attributes_pb2.FaceAttributesResponse),
    merge=into_field("attributes", "attributes"), aligned_size=FACE_CROP_SIDE,
)
EXPRESSION = TaskSpec(
    name="expression", backend="expression", scope=Scope.PER_FACE,
    call=unary("/xcloud.v1.Expression/Classify", _face_request(expression_pb2.ExpressionRequest),
               expression_pb2.ExpressionResponse),
    merge=into_field("expression", "expression"), aligned_size=FACE_CROP_SIDE,
)
EMBEDDING = TaskSpec(
    name="embedding", backend="face_attributes", scope=Scope.PER_FACE,
    call=unary("/xcloud.v1.FaceAttributes/Embed",
               _face_request(face_attributes_pb2.FaceEmbeddingRequest),
               face_attributes_pb2.FaceEmbeddingResponse),
    merge=into_field("embedding", "embedding"), aligned_size=FACE_CROP_SIDE,
)


def _identify_request(face: Message, options: AnalyzeOptions) -> animal_identity_pb2.IdentifyRequest:
    return animal_identity_pb2.IdentifyRequest(
        collection=options.identify.collection, face=face, top_k=options.identify.top_k
    )


async def _collection_state(client: BackendClient, options: AnalyzeOptions, deadline: Deadline,
                            metadata: Metadata) -> bytes:
    """The tenant, the collection and its revision: every enrolment or deletion bumps the
    revision, so a cached answer never outlives the gallery it was computed on, and one
    tenant never reads another's answer."""
    name = options.identify.collection
    if not name:
        raise BackendError("animal_identity", grpc.StatusCode.INVALID_ARGUMENT,
                           'task "identify" needs options.identify.collection')
    response = await client.call(
        "/xcloud.v1.AnimalIdentity/GetCollection", animal_identity_pb2.GetCollectionRequest(name=name),
        animal_identity_pb2.GetCollectionResponse, deadline, metadata,
    )
    tenant = dict(metadata).get(TENANT_HEADER, "")
    found = response.collection
    return f"{tenant}|{found.name}|{found.revision}|{found.model.name}@{found.model.version}".encode()


IDENTIFY = TaskSpec(
    name="identify", backend="animal_identity", scope=Scope.PER_FACE,
    call=unary("/xcloud.v1.AnimalIdentity/Identify", _identify_request,
               animal_identity_pb2.IdentifyResponse),
    merge=into_field("identity"), aligned_size=FACE_CROP_SIDE,
    options_key=options_field("identify"), state_key=_collection_state, only_when_named=True,
)


def default_registry() -> TaskRegistry:
    """A fresh registry of every task XCloud has; callers may register more (tests do)."""
    return TaskRegistry([DETECTION, ATTRIBUTES, EXPRESSION, EMBEDDING, IDENTIFY, FINE_GRAINED])
