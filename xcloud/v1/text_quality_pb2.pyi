from xcloud.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ContentRecord(_message.Message):
    __slots__ = ("duration", "reply_message_count", "source", "purchasable", "is_refundable", "has_authenticated", "user_type", "gender", "badge", "speaker_audio_message_count", "attachment_count", "liked_num", "is_commercial", "audition_message_count", "is_audition_open", "seats_taken", "seats_max", "speaker_message_count", "amount", "original_price", "has_audition", "has_feedback", "review_count")
    DURATION_FIELD_NUMBER: _ClassVar[int]
    REPLY_MESSAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PURCHASABLE_FIELD_NUMBER: _ClassVar[int]
    IS_REFUNDABLE_FIELD_NUMBER: _ClassVar[int]
    HAS_AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    USER_TYPE_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    BADGE_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_AUDIO_MESSAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    LIKED_NUM_FIELD_NUMBER: _ClassVar[int]
    IS_COMMERCIAL_FIELD_NUMBER: _ClassVar[int]
    AUDITION_MESSAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    IS_AUDITION_OPEN_FIELD_NUMBER: _ClassVar[int]
    SEATS_TAKEN_FIELD_NUMBER: _ClassVar[int]
    SEATS_MAX_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_MESSAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    HAS_AUDITION_FIELD_NUMBER: _ClassVar[int]
    HAS_FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    REVIEW_COUNT_FIELD_NUMBER: _ClassVar[int]
    duration: int
    reply_message_count: int
    source: int
    purchasable: bool
    is_refundable: bool
    has_authenticated: bool
    user_type: int
    gender: int
    badge: int
    speaker_audio_message_count: int
    attachment_count: int
    liked_num: int
    is_commercial: bool
    audition_message_count: int
    is_audition_open: bool
    seats_taken: int
    seats_max: int
    speaker_message_count: int
    amount: int
    original_price: float
    has_audition: bool
    has_feedback: bool
    review_count: int
    def __init__(self, duration: _Optional[int] = ..., reply_message_count: _Optional[int] = ..., source: _Optional[int] = ..., purchasable: _Optional[bool] = ..., is_refundable: _Optional[bool] = ..., has_authenticated: _Optional[bool] = ..., user_type: _Optional[int] = ..., gender: _Optional[int] = ..., badge: _Optional[int] = ..., speaker_audio_message_count: _Optional[int] = ..., attachment_count: _Optional[int] = ..., liked_num: _Optional[int] = ..., is_commercial: _Optional[bool] = ..., audition_message_count: _Optional[int] = ..., is_audition_open: _Optional[bool] = ..., seats_taken: _Optional[int] = ..., seats_max: _Optional[int] = ..., speaker_message_count: _Optional[int] = ..., amount: _Optional[int] = ..., original_price: _Optional[float] = ..., has_audition: _Optional[bool] = ..., has_feedback: _Optional[bool] = ..., review_count: _Optional[int] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[ContentRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[ContentRecord, _Mapping]]] = ...) -> None: ...

class ContentScore(_message.Message):
    __slots__ = ("review_score",)
    REVIEW_SCORE_FIELD_NUMBER: _ClassVar[int]
    review_score: float
    def __init__(self, review_score: _Optional[float] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("scores", "model")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedCompositeFieldContainer[ContentScore]
    model: _common_pb2.ModelInfo
    def __init__(self, scores: _Optional[_Iterable[_Union[ContentScore, _Mapping]]] = ..., model: _Optional[_Union[_common_pb2.ModelInfo, _Mapping]] = ...) -> None: ...
