from xcloud.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CollectionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLLECTION_KIND_UNSPECIFIED: _ClassVar[CollectionKind]
    COLLECTION_KIND_FACE: _ClassVar[CollectionKind]
    COLLECTION_KIND_GENERIC: _ClassVar[CollectionKind]
    COLLECTION_KIND_ANIMAL: _ClassVar[CollectionKind]
COLLECTION_KIND_UNSPECIFIED: CollectionKind
COLLECTION_KIND_FACE: CollectionKind
COLLECTION_KIND_GENERIC: CollectionKind
COLLECTION_KIND_ANIMAL: CollectionKind

class Collection(_message.Message):
    __slots__ = ("name", "kind", "model", "dimension", "threshold", "revision", "target_far")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FAR_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: CollectionKind
    model: _common_pb2.ModelInfo
    dimension: int
    threshold: float
    revision: int
    target_far: float
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[CollectionKind, str]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., dimension: _Optional[int] = ..., threshold: _Optional[float] = ..., revision: _Optional[int] = ..., target_far: _Optional[float] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("name", "kind", "target_far")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_FAR_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: CollectionKind
    target_far: float
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[CollectionKind, str]] = ..., target_far: _Optional[float] = ...) -> None: ...

class CreateCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: Collection
    def __init__(self, collection: _Optional[_Union[Collection, _Mapping]] = ...) -> None: ...

class GetCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: Collection
    def __init__(self, collection: _Optional[_Union[Collection, _Mapping]] = ...) -> None: ...

class DeleteCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: Collection
    def __init__(self, collection: _Optional[_Union[Collection, _Mapping]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[Collection]
    def __init__(self, collections: _Optional[_Iterable[_Union[Collection, _Mapping]]] = ...) -> None: ...

class EnrollRequest(_message.Message):
    __slots__ = ("collection", "subject", "images", "faces", "boxes")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    BOXES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    subject: str
    images: _containers.RepeatedCompositeFieldContainer[_common_pb2.Image]
    faces: _containers.RepeatedCompositeFieldContainer[_common_pb2.RawImage]
    boxes: _containers.RepeatedCompositeFieldContainer[_common_pb2.BoundingBox]
    def __init__(self, collection: _Optional[str] = ..., subject: _Optional[str] = ..., images: _Optional[_Iterable[_Union[_common_pb2.Image, _Mapping]]] = ..., faces: _Optional[_Iterable[_Union[_common_pb2.RawImage, _Mapping]]] = ..., boxes: _Optional[_Iterable[_Union[_common_pb2.BoundingBox, _Mapping]]] = ...) -> None: ...

class EnrollResponse(_message.Message):
    __slots__ = ("enrolled", "subject_embeddings", "model")
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    enrolled: int
    subject_embeddings: int
    model: _common_pb2.ModelInfo
    def __init__(self, enrolled: _Optional[int] = ..., subject_embeddings: _Optional[int] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("subject", "distance", "score", "same_subject", "inliers")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SAME_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    INLIERS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    distance: float
    score: float
    same_subject: bool
    inliers: int
    def __init__(self, subject: _Optional[str] = ..., distance: _Optional[float] = ..., score: _Optional[float] = ..., same_subject: _Optional[bool] = ..., inliers: _Optional[int] = ...) -> None: ...

class IdentifyRequest(_message.Message):
    __slots__ = ("collection", "image", "face", "top_k", "box")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    collection: str
    image: _common_pb2.Image
    face: _common_pb2.RawImage
    top_k: int
    box: _common_pb2.BoundingBox
    def __init__(self, collection: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., face: _Optional[_Union[_common_pb2.RawImage, _Mapping]] = ..., top_k: _Optional[int] = ..., box: _Optional[_Union[_common_pb2.BoundingBox, _Mapping]] = ...) -> None: ...

class IdentifyResponse(_message.Message):
    __slots__ = ("matches", "model", "threshold")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    model: _common_pb2.ModelInfo
    threshold: float
    def __init__(self, matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., threshold: _Optional[float] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("collection", "subject", "image", "face", "box")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    FACE_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    collection: str
    subject: str
    image: _common_pb2.Image
    face: _common_pb2.RawImage
    box: _common_pb2.BoundingBox
    def __init__(self, collection: _Optional[str] = ..., subject: _Optional[str] = ..., image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., face: _Optional[_Union[_common_pb2.RawImage, _Mapping]] = ..., box: _Optional[_Union[_common_pb2.BoundingBox, _Mapping]] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("same_subject", "distance", "threshold", "score", "model")
    SAME_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    same_subject: bool
    distance: float
    threshold: float
    score: float
    model: _common_pb2.ModelInfo
    def __init__(self, same_subject: _Optional[bool] = ..., distance: _Optional[float] = ..., threshold: _Optional[float] = ..., score: _Optional[float] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...

class DeleteSubjectRequest(_message.Message):
    __slots__ = ("collection", "subject")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    subject: str
    def __init__(self, collection: _Optional[str] = ..., subject: _Optional[str] = ...) -> None: ...

class DeleteSubjectResponse(_message.Message):
    __slots__ = ("deleted_embeddings", "model")
    DELETED_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    deleted_embeddings: int
    model: _common_pb2.ModelInfo
    def __init__(self, deleted_embeddings: _Optional[int] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...

class ListSubjectsRequest(_message.Message):
    __slots__ = ("collection", "page_size", "page_token")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    collection: str
    page_size: int
    page_token: str
    def __init__(self, collection: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Subject(_message.Message):
    __slots__ = ("subject", "embeddings")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    subject: str
    embeddings: int
    def __init__(self, subject: _Optional[str] = ..., embeddings: _Optional[int] = ...) -> None: ...

class ListSubjectsResponse(_message.Message):
    __slots__ = ("subjects", "next_page_token", "model")
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    next_page_token: str
    model: _common_pb2.ModelInfo
    def __init__(self, subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...

class IdentifyOptions(_message.Message):
    __slots__ = ("collection", "top_k")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    collection: str
    top_k: int
    def __init__(self, collection: _Optional[str] = ..., top_k: _Optional[int] = ...) -> None: ...
