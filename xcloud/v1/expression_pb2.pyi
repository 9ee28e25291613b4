from xcloud.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExpressionRequest(_message.Message):
    __slots__ = ("face", "faces")
    FACE_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    face: _common_pb2.RawImage
    faces: _containers.RepeatedCompositeFieldContainer[_common_pb2.RawImage]
    def __init__(self, face: _Optional[_Union[_common_pb2.RawImage, _Mapping]] = ..., faces: _Optional[_Iterable[_Union[_common_pb2.RawImage, _Mapping]]] = ...) -> None: ...

class ExpressionProbability(_message.Message):
    __slots__ = ("label", "probability")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    label: str
    probability: float
    def __init__(self, label: _Optional[str] = ..., probability: _Optional[float] = ...) -> None: ...

class ExpressionResult(_message.Message):
    __slots__ = ("label", "probability", "probabilities")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    label: str
    probability: float
    probabilities: _containers.RepeatedCompositeFieldContainer[ExpressionProbability]
    def __init__(self, label: _Optional[str] = ..., probability: _Optional[float] = ..., probabilities: _Optional[_Iterable[_Union[ExpressionProbability, _Mapping]]] = ...) -> None: ...

class ExpressionResponse(_message.Message):
    __slots__ = ("expression", "model", "results")
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    expression: ExpressionResult
    model: _common_pb2.ModelInfo
    results: _containers.RepeatedCompositeFieldContainer[ExpressionResult]
    def __init__(self, expression: _Optional[_Union[ExpressionResult, _Mapping]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ..., results: _Optional[_Iterable[_Union[ExpressionResult, _Mapping]]] = ...) -> None: ...
