"""ScoreContent: content-quality records through the gateway, with cache and task status.

A whole batch is one cache entry (through the gateway's one cached-call path,
gateway/cached.py): sending only the misses would renumber the records the backend's error
messages refer to. Bad records are the caller's to fix, so INVALID_ARGUMENT and
RESOURCE_EXHAUSTED fail the call; any other backend failure is reported in the status.
"""
from __future__ import annotations

import asyncio
import hashlib

from gateway.cached import CachedCalls, CallKey
from gateway.clients import Backends, Deadline, Metadata
from gateway.outcomes import Outcome, succeeded
from services.runtime import tracing
from services.runtime.errors import InvalidInput, TooLarge
from services.runtime.interceptors import REQUEST_ID_KEY
from xcloud.v1 import gateway_pb2, text_quality_pb2

TASK, BACKEND = "content_quality", "text_quality"
METHOD = "/xcloud.v1.TextQuality/Score"
# The content-quality service's own default (TextQualitySettings.max_records): checked here
# first, so an oversized request is neither digested nor forwarded.
MAX_RECORDS = 1024
# Digests of more records than this run in a thread: ~30 µs a record would stall every call.
INLINE_DIGEST_RECORDS = 64


def records_digest(records) -> bytes:
    digest = hashlib.sha256()
    for record in records:
        body = record.SerializeToString(deterministic=True)
        digest.update(len(body).to_bytes(8, "big") + body)
    return digest.digest()


async def _digest(records) -> bytes:
    if len(records) <= INLINE_DIGEST_RECORDS:
        return records_digest(records)
    return await asyncio.to_thread(records_digest, records)


class ContentScorer:
    def __init__(self, backends: Backends, cached: CachedCalls, max_records: int = MAX_RECORDS):
        self._max_records = max_records
        self._backends = backends
        self._cached = cached

    async def score(self, request: gateway_pb2.ScoreContentRequest, deadline: Deadline,
                    request_id: str) -> gateway_pb2.ScoreContentResponse:
        if not request.records:
            raise InvalidInput("records is empty: send at least one content record")
        if len(request.records) > self._max_records:
            raise TooLarge(f"{len(request.records)} records in one request; at most "
                           f"{self._max_records} are accepted, split the batch")
        metadata = ((REQUEST_ID_KEY, request_id),)
        call = CallKey(TASK, BACKEND, await _digest(request.records))
        with tracing.span(f"task {TASK}", {"xcloud.task": TASK}):
            outcome = await self._cached.run(
                call, deadline, lambda: self._compute(request, deadline, metadata),
                fresh=request.no_cache, parse=gateway_pb2.ScoreContentResponse.FromString)
        outcome.raise_if_callers_fault()
        response = gateway_pb2.ScoreContentResponse(request_id=request_id, status=outcome.status)
        if outcome.fragment is not None:
            response.scores.extend(outcome.fragment.scores)
        return response

    async def _compute(self, request: gateway_pb2.ScoreContentRequest, deadline: Deadline,
                       metadata: Metadata) -> Outcome:
        reply = await self._backends.require(BACKEND).call(
            METHOD, text_quality_pb2.ScoreRequest(records=request.records),
            text_quality_pb2.ScoreResponse, deadline, metadata)
        return succeeded(TASK, gateway_pb2.ScoreContentResponse(scores=reply.scores), reply.model)
