from xcloud.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CacheEntry(_message.Message):
    __slots__ = ("status", "fragment")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FRAGMENT_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.TaskStatus
    fragment: bytes
    def __init__(self, status: _Optional[_Union[_common_pb2.TaskStatus, _Mapping]] = ..., fragment: _Optional[bytes] = ...) -> None: ...
