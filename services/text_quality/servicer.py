"""Thin gRPC servicer: request -> converters -> handler -> converters -> response."""
from __future__ import annotations

from services.runtime.interceptors import deadline_of
from services.text_quality import converters
from services.text_quality.handler import TextQualityHandler
from xcloud.v1 import text_quality_pb2_grpc


class TextQualityServicer(text_quality_pb2_grpc.TextQualityServicer):
    def __init__(self, handler: TextQualityHandler):
        self._handler = handler

    async def Score(self, request, context):
        # Counted on the message, before any record becomes a dict: a 32 MiB request of empty
        # records is ~16 M of them, gigabytes as dicts.
        self._handler.check_count(len(request.records))
        records = converters.records_from_proto(request.records)
        result = await self._handler.score(records, deadline_of(context))
        return converters.result_to_proto(result)
