from xcloud.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FaceAttributesMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FACE_ATTRIBUTES_MODE_UNSPECIFIED: _ClassVar[FaceAttributesMode]
    FACE_ATTRIBUTES_MODE_FAST: _ClassVar[FaceAttributesMode]
    FACE_ATTRIBUTES_MODE_ACCURATE: _ClassVar[FaceAttributesMode]
FACE_ATTRIBUTES_MODE_UNSPECIFIED: FaceAttributesMode
FACE_ATTRIBUTES_MODE_FAST: FaceAttributesMode
FACE_ATTRIBUTES_MODE_ACCURATE: FaceAttributesMode

class FaceAttributesRequest(_message.Message):
    __slots__ = ("face", "faces", "with_embedding", "mode")
    FACE_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    WITH_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    face: _common_pb2.RawImage
    faces: _containers.RepeatedCompositeFieldContainer[_common_pb2.RawImage]
    with_embedding: bool
    mode: FaceAttributesMode
    def __init__(self, face: _Optional[_Union[_common_pb2.RawImage, _Mapping]] = ..., faces: _Optional[_Iterable[_Union[_common_pb2.RawImage, _Mapping]]] = ..., with_embedding: _Optional[bool] = ..., mode: _Optional[_Union[FaceAttributesMode, str]] = ...) -> None: ...

class AgeEstimate(_message.Message):
    __slots__ = ("years",)
    YEARS_FIELD_NUMBER: _ClassVar[int]
    years: float
    def __init__(self, years: _Optional[float] = ...) -> None: ...

class GenderEstimate(_message.Message):
    __slots__ = ("label", "probability")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    label: str
    probability: float
    def __init__(self, label: _Optional[str] = ..., probability: _Optional[float] = ...) -> None: ...

class RaceProbability(_message.Message):
    __slots__ = ("label", "probability")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    label: str
    probability: float
    def __init__(self, label: _Optional[str] = ..., probability: _Optional[float] = ...) -> None: ...

class RaceEstimate(_message.Message):
    __slots__ = ("label", "probability", "probabilities")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    label: str
    probability: float
    probabilities: _containers.RepeatedCompositeFieldContainer[RaceProbability]
    def __init__(self, label: _Optional[str] = ..., probability: _Optional[float] = ..., probabilities: _Optional[_Iterable[_Union[RaceProbability, _Mapping]]] = ...) -> None: ...

class BeautyEstimate(_message.Message):
    __slots__ = ("score",)
    SCORE_FIELD_NUMBER: _ClassVar[int]
    score: float
    def __init__(self, score: _Optional[float] = ...) -> None: ...

class FaceAttributesResult(_message.Message):
    __slots__ = ("age", "gender", "race", "beauty", "statuses")
    AGE_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    RACE_FIELD_NUMBER: _ClassVar[int]
    BEAUTY_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    age: AgeEstimate
    gender: GenderEstimate
    race: RaceEstimate
    beauty: BeautyEstimate
    statuses: _containers.RepeatedCompositeFieldContainer[_common_pb2.TaskStatus]
    def __init__(self, age: _Optional[_Union[AgeEstimate, _Mapping]] = ..., gender: _Optional[_Union[GenderEstimate, _Mapping]] = ..., race: _Optional[_Union[RaceEstimate, _Mapping]] = ..., beauty: _Optional[_Union[BeautyEstimate, _Mapping]] = ..., statuses: _Optional[_Iterable[_Union[_common_pb2.TaskStatus, _Mapping]]] = ...) -> None: ...

class FaceAttributesResponse(_message.Message):
    __slots__ = ("attributes", "results", "embeddings", "embedding_status", "model")
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_STATUS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    attributes: FaceAttributesResult
    results: _containers.RepeatedCompositeFieldContainer[FaceAttributesResult]
    embeddings: _containers.RepeatedCompositeFieldContainer[FaceEmbedding]
    embedding_status: _common_pb2.TaskStatus
    model: _common_pb2.ModelInfo
    def __init__(self, attributes: _Optional[_Union[FaceAttributesResult, _Mapping]] = ..., results: _Optional[_Iterable[_Union[FaceAttributesResult, _Mapping]]] = ..., embeddings: _Optional[_Iterable[_Union[FaceEmbedding, _Mapping]]] = ..., embedding_status: _Optional[_Union[_common_pb2.TaskStatus, _Mapping]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...

class FaceEmbeddingRequest(_message.Message):
    __slots__ = ("face", "faces", "mode")
    FACE_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    face: _common_pb2.RawImage
    faces: _containers.RepeatedCompositeFieldContainer[_common_pb2.RawImage]
    mode: FaceAttributesMode
    def __init__(self, face: _Optional[_Union[_common_pb2.RawImage, _Mapping]] = ..., faces: _Optional[_Iterable[_Union[_common_pb2.RawImage, _Mapping]]] = ..., mode: _Optional[_Union[FaceAttributesMode, str]] = ...) -> None: ...

class FaceEmbedding(_message.Message):
    __slots__ = ("values", "same_person_distance", "model")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    SAME_PERSON_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    same_person_distance: float
    model: _common_pb2.ModelInfo
    def __init__(self, values: _Optional[_Iterable[float]] = ..., same_person_distance: _Optional[float] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...

class FaceEmbeddingResponse(_message.Message):
    __slots__ = ("embedding", "model", "embeddings")
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    embedding: FaceEmbedding
    model: _common_pb2.ModelInfo
    embeddings: _containers.RepeatedCompositeFieldContainer[FaceEmbedding]
    def __init__(self, embedding: _Optional[_Union[FaceEmbedding, _Mapping]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., embeddings: _Optional[_Iterable[_Union[FaceEmbedding, _Mapping]]] = ...) -> None: ...
