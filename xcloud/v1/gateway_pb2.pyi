from xcloud.v1 import animal_identity_pb2 as _animal_identity_pb2
from xcloud.v1 import common_pb2 as _common_pb2
from xcloud.v1 import expression_pb2 as _expression_pb2
from xcloud.v1 import face_attributes_pb2 as _face_attributes_pb2
from xcloud.v1 import face_detection_pb2 as _face_detection_pb2
from xcloud.v1 import fine_grained_pb2 as _fine_grained_pb2
from xcloud.v1 import text_quality_pb2 as _text_quality_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FineGrainedOptions(_message.Message):
    __slots__ = ("model", "top_k")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    model: str
    top_k: int
    def __init__(self, model: _Optional[str] = ..., top_k: _Optional[int] = ...) -> None: ...

class AnalyzeOptions(_message.Message):
    __slots__ = ("detection", "no_cache", "fine_grained", "identify", "attributes_mode")
    DETECTION_FIELD_NUMBER: _ClassVar[int]
    NO_CACHE_FIELD_NUMBER: _ClassVar[int]
    FINE_GRAINED_FIELD_NUMBER: _ClassVar[int]
    IDENTIFY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_MODE_FIELD_NUMBER: _ClassVar[int]
    detection: _face_detection_pb2.DetectOptions
    no_cache: bool
    fine_grained: FineGrainedOptions
    identify: _animal_identity_pb2.IdentifyOptions
    attributes_mode: _face_attributes_pb2.FaceAttributesMode
    def __init__(self, detection: _Optional[_Union[_face_detection_pb2.DetectOptions, _Mapping]] = ..., no_cache: _Optional[bool] = ..., fine_grained: _Optional[_Union[FineGrainedOptions, _Mapping]] = ..., identify: _Optional[_Union[_animal_identity_pb2.IdentifyOptions, _Mapping]] = ..., attributes_mode: _Optional[_Union[_face_attributes_pb2.FaceAttributesMode, str]] = ...) -> None: ...

class AnalyzeRequest(_message.Message):
    __slots__ = ("image", "tasks", "options")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.Image
    tasks: _containers.RepeatedScalarFieldContainer[str]
    options: AnalyzeOptions
    def __init__(self, image: _Optional[_Union[_common_pb2.Image, _Mapping]] = ..., tasks: _Optional[_Iterable[str]] = ..., options: _Optional[_Union[AnalyzeOptions, _Mapping]] = ...) -> None: ...

class FaceAnalysis(_message.Message):
    __slots__ = ("face", "attributes", "expression", "embedding", "identity")
    FACE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    face: _common_pb2.Face
    attributes: _face_attributes_pb2.FaceAttributesResult
    expression: _expression_pb2.ExpressionResult
    embedding: _face_attributes_pb2.FaceEmbedding
    identity: _animal_identity_pb2.IdentifyResponse
    def __init__(self, face: _Optional[_Union[_common_pb2.Face, _Mapping]] = ..., attributes: _Optional[_Union[_face_attributes_pb2.FaceAttributesResult, _Mapping]] = ..., expression: _Optional[_Union[_expression_pb2.ExpressionResult, _Mapping]] = ..., embedding: _Optional[_Union[_face_attributes_pb2.FaceEmbedding, _Mapping]] = ..., identity: _Optional[_Union[_animal_identity_pb2.IdentifyResponse, _Mapping]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("faces", "statuses", "image_width", "image_height", "request_id", "fine_grained")
    FACES_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FINE_GRAINED_FIELD_NUMBER: _ClassVar[int]
    faces: _containers.RepeatedCompositeFieldContainer[FaceAnalysis]
    statuses: _containers.RepeatedCompositeFieldContainer[_common_pb2.TaskStatus]
    image_width: int
    image_height: int
    request_id: str
    fine_grained: _fine_grained_pb2.FineGrainedClassifyResponse
    def __init__(self, faces: _Optional[_Iterable[_Union[FaceAnalysis, _Mapping]]] = ..., statuses: _Optional[_Iterable[_Union[_common_pb2.TaskStatus, _Mapping]]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ..., request_id: _Optional[str] = ..., fine_grained: _Optional[_Union[_fine_grained_pb2.FineGrainedClassifyResponse, _Mapping]] = ...) -> None: ...

class Backend(_message.Message):
    __slots__ = ("name", "address", "metrics_url", "tasks")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    METRICS_URL_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    name: str
    address: str
    metrics_url: str
    tasks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., metrics_url: _Optional[str] = ..., tasks: _Optional[_Iterable[str]] = ...) -> None: ...

class ListBackendsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBackendsResponse(_message.Message):
    __slots__ = ("backends", "metrics_url")
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    METRICS_URL_FIELD_NUMBER: _ClassVar[int]
    backends: _containers.RepeatedCompositeFieldContainer[Backend]
    metrics_url: str
    def __init__(self, backends: _Optional[_Iterable[_Union[Backend, _Mapping]]] = ..., metrics_url: _Optional[str] = ...) -> None: ...

class ScoreContentRequest(_message.Message):
    __slots__ = ("records", "no_cache")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NO_CACHE_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_text_quality_pb2.ContentRecord]
    no_cache: bool
    def __init__(self, records: _Optional[_Iterable[_Union[_text_quality_pb2.ContentRecord, _Mapping]]] = ..., no_cache: _Optional[bool] = ...) -> None: ...

class ScoreContentResponse(_message.Message):
    __slots__ = ("scores", "status", "request_id")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedCompositeFieldContainer[_text_quality_pb2.ContentScore]
    status: _common_pb2.TaskStatus
    request_id: str
    def __init__(self, scores: _Optional[_Iterable[_Union[_text_quality_pb2.ContentScore, _Mapping]]] = ..., status: _Optional[_Union[_common_pb2.TaskStatus, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class FaceQuality(_message.Message):
    __slots__ = ("inter_ocular_px", "sharpness", "yaw", "reliable", "reason")
    INTER_OCULAR_PX_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_FIELD_NUMBER: _ClassVar[int]
    YAW_FIELD_NUMBER: _ClassVar[int]
    RELIABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    inter_ocular_px: float
    sharpness: float
    yaw: float
    reliable: bool
    reason: str
    def __init__(self, inter_ocular_px: _Optional[float] = ..., sharpness: _Optional[float] = ..., yaw: _Optional[float] = ..., reliable: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class GalleryEnrollResponse(_message.Message):
    __slots__ = ("enrollment", "qualities")
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    QUALITIES_FIELD_NUMBER: _ClassVar[int]
    enrollment: _animal_identity_pb2.EnrollResponse
    qualities: _containers.RepeatedCompositeFieldContainer[FaceQuality]
    def __init__(self, enrollment: _Optional[_Union[_animal_identity_pb2.EnrollResponse, _Mapping]] = ..., qualities: _Optional[_Iterable[_Union[FaceQuality, _Mapping]]] = ...) -> None: ...

class GalleryIdentifyResponse(_message.Message):
    __slots__ = ("identity", "quality")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    identity: _animal_identity_pb2.IdentifyResponse
    quality: FaceQuality
    def __init__(self, identity: _Optional[_Union[_animal_identity_pb2.IdentifyResponse, _Mapping]] = ..., quality: _Optional[_Union[FaceQuality, _Mapping]] = ...) -> None: ...

class GalleryVerifyResponse(_message.Message):
    __slots__ = ("verification", "quality")
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    verification: _animal_identity_pb2.VerifyResponse
    quality: FaceQuality
    def __init__(self, verification: _Optional[_Union[_animal_identity_pb2.VerifyResponse, _Mapping]] = ..., quality: _Optional[_Union[FaceQuality, _Mapping]] = ...) -> None: ...
