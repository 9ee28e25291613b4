from xcloud.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DetectOptions(_message.Message):
    __slots__ = ("model", "min_face_size", "score_threshold", "max_faces", "aligned_size", "aligned_margin")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MIN_FACE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MAX_FACES_FIELD_NUMBER: _ClassVar[int]
    ALIGNED_SIZE_FIELD_NUMBER: _ClassVar[int]
    ALIGNED_MARGIN_FIELD_NUMBER: _ClassVar[int]
    model: str
    min_face_size: float
    score_threshold: float
    max_faces: int
    aligned_size: int
    aligned_margin: float
    def __init__(self, model: _Optional[str] = ..., min_face_size: _Optional[float] = ..., score_threshold: _Optional[float] = ..., max_faces: _Optional[int] = ..., aligned_size: _Optional[int] = ..., aligned_margin: _Optional[float] = ...) -> None: ...

class DetectRequest(_message.Message):
    __slots__ = ("image", "options")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.Image
    options: DetectOptions
    def __init__(self, image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., options: _Optional[_Union[DetectOptions, _Mapping]] = ...) -> None: ...

class DetectResponse(_message.Message):
    __slots__ = ("faces", "model", "image_width", "image_height")
    FACES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    faces: _containers.RepeatedCompositeFieldContainer[_common_pb2.Face]
    model: _common_pb2.ModelInfo
    image_width: int
    image_height: int
    def __init__(self, faces: _Optional[_Iterable[_Union[_common_pb2.Face, _Mapping]]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ...) -> None: ...
