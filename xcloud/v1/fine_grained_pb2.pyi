from xcloud.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FineGrainedClassifyRequest(_message.Message):
    __slots__ = ("image", "model", "top_k", "box")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    BOX_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.Image
    model: str
    top_k: int
    box: _common_pb2.BoundingBox
    def __init__(self, image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., model: _Optional[str] = ..., top_k: _Optional[int] = ..., box: _Optional[_Union[_common_pb2.BoundingBox, _Mapping]] = ...) -> None: ...

class FineGrainedLabel(_message.Message):
    __slots__ = ("name", "index", "probability")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    probability: float
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., probability: _Optional[float] = ...) -> None: ...

class FineGrainedClassifyResponse(_message.Message):
    __slots__ = ("labels", "model")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[FineGrainedLabel]
    model: _common_pb2.ModelInfo
    def __init__(self, labels: _Optional[_Iterable[_Union[FineGrainedLabel, _Mapping]]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...
