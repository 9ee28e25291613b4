"""The task registry: which backend serves each task and how its answer joins the response.

Adding a task is one ``TaskSpec`` in ``default_registry`` plus its field in gateway.proto, e.g.

    TaskSpec("expression", "expression", Scope.PER_FACE,
             batched=Batched(EXPRESSION_CALL, answers=lambda r: r.results),
             merge=into_field("expression"), aligned_size=FACE_CROP_SIDE)

A per-face task is either ``batched`` (every face of the image in one backend call, a
``FaceCall``; tasks naming the same FaceCall share that one call) or called once per face
(``call``, e.g. identify). The orchestration (gateway/analyze.py, gateway/faces.py) knows only
the scopes and FaceCalls, never a task by name.
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
    face_detection_pb2,
    fine_grained_pb2,
    gateway_pb2,
)

AnalyzeOptions = gateway_pb2.AnalyzeOptions
# (client, payload, options, deadline, metadata) -> backend response. The payload is the
# encoded Image for DETECTION and WHOLE_IMAGE tasks, the aligned crop RawImage for PER_FACE.
Call = Callable[[BackendClient, Message, AnalyzeOptions, Deadline, Metadata], Awaitable[Message]]
# (target, backend response): target is the FaceAnalysis of one face for PER_FACE tasks (and
# the response is that face's answer of a batched call) and the AnalyzeResponse for WHOLE_IMAGE.
Merge = Callable[[Message, Message], None]
OptionsKey = Callable[[AnalyzeOptions], bytes]
# (client, every face's crop, options, the tasks of the call, deadline, metadata) -> one
# backend response answering every face for every one of those tasks.
FacesCall = Callable[[BackendClient, Sequence[common_pb2.RawImage], AnalyzeOptions,
                      frozenset[str], Deadline, Metadata], Awaitable[Message]]
# (client, options, deadline, metadata) -> what else the answer depends on, asked of the
# backend once per request (an identity collection's revision); part of the cache key. It
# raises BackendError when the task cannot run (that becomes the task's status).
StateKey = Callable[[BackendClient, AnalyzeOptions, Deadline, Metadata], Awaitable[bytes]]


class Scope(enum.Enum):
    DETECTION = "detection"      # finds the faces; runs at most once per request
    WHOLE_IMAGE = "whole_image"  # takes the encoded image; runs in parallel with detection
    PER_FACE = "per_face"        # takes the faces' aligned crops; runs after detection


def no_options(options: AnalyzeOptions) -> bytes:
    return b""


def no_failure(response: Message) -> common_pb2.TaskStatus | None:
    return None


@dataclass(frozen=True)
class FaceCall:
    """One backend call that answers every face of an image; the tasks naming it share it."""

    name: str
    call: FacesCall


@dataclass(frozen=True)
class Batched:
    """How a per-face task reads its part of a shared FaceCall's response."""

    call: FaceCall
    answers: Callable[[Message], Sequence[Message]]  # one per face, in crop order
    model: Callable[[Message], common_pb2.ModelInfo] = lambda response: model_of(response)
    # the task's own failure inside a call that succeeded (e.g. its model is not installed)
    failure: Callable[[Message], common_pb2.TaskStatus | None] = no_failure


@dataclass(frozen=True)
class TaskSpec:
    name: str
    backend: str             # key of GatewaySettings.backends
    scope: Scope
    call: Call | None = None  # DETECTION, WHOLE_IMAGE, and PER_FACE called once per face
    merge: Merge | None = None
    aligned_size: int = 0    # PER_FACE: side of the aligned crop the backend takes
    options_key: OptionsKey = no_options  # the options that change this task's answer
    state_key: StateKey | None = None     # backend state that changes it (see StateKey)
    only_when_named: bool = False         # not part of "every task": it needs options
    batched: Batched | None = None        # PER_FACE: every face in one shared call

    def __post_init__(self) -> None:
        if self.call is None and self.batched is None:
            raise ValueError(f"task {self.name} must say how its backend is called")
        if self.batched is not None and (self.scope is not Scope.PER_FACE or self.state_key):
            raise ValueError(f"task {self.name}: only per-face tasks without a state key batch")
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
    name="detection", backend="face_detection", scope=Scope.DETECTION,
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
    name="fine_grained", backend="fine_grained", scope=Scope.WHOLE_IMAGE,
    call=unary("/xcloud.v1.FineGrained/Classify", _classify_request,
               fine_grained_pb2.FineGrainedClassifyResponse),
    merge=into_field("fine_grained"), options_key=options_field("fine_grained"),
)


# Per-face tasks get the face's aligned crop (SHARED_CROP_MARGIN framing) at this side and
# cut their own view out of it; 224 px leaves every model's input size some headroom.
FACE_CROP_SIDE = 224


def _face_request(request_type: type[Message]) -> Callable[[Message, AnalyzeOptions], Message]:
    return lambda face, options: request_type(face=face)


def _identify_request(face: Message,
                      options: AnalyzeOptions) -> animal_identity_pb2.IdentifyRequest:
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
        "/xcloud.v1.AnimalIdentity/GetCollection",
        animal_identity_pb2.GetCollectionRequest(name=name),
        animal_identity_pb2.GetCollectionResponse, deadline, metadata,
    )
    tenant = dict(metadata).get(TENANT_HEADER, "")
    found = response.collection
    model = f"{found.model.name}@{found.model.version}"
    return f"{tenant}|{found.name}|{found.revision}|{model}".encode()


IDENTIFY = TaskSpec(
    name="identify", backend="animal_identity", scope=Scope.PER_FACE,
    call=unary("/xcloud.v1.AnimalIdentity/Identify", _identify_request,
               animal_identity_pb2.IdentifyResponse),
    merge=into_field("identity"), aligned_size=FACE_CROP_SIDE,
    options_key=options_field("identify"), state_key=_collection_state, only_when_named=True,
)


def default_registry() -> TaskRegistry:
    """A fresh registry of every task XCloud has; callers may register more (tests do)."""
    from gateway import face_tasks  # the batched face tasks build on this module's types

    return TaskRegistry([DETECTION, face_tasks.ATTRIBUTES, face_tasks.EXPRESSION,
                         face_tasks.EMBEDDING, IDENTIFY, FINE_GRAINED])
