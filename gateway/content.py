"""ScoreContent: content-quality records through the gateway, with cache and task status.

A whole batch is one cache entry: sending only the misses would renumber the records the
backend's error messages refer to. Bad records are the caller's to fix, so INVALID_ARGUMENT
and RESOURCE_EXHAUSTED fail the call; any other backend failure is reported in the status.
"""
from __future__ import annotations

import asyncio
import hashlib

import grpc

from gateway.cache import ResultCache, SingleFlight, cache_key
from gateway.clients import BackendError, Backends, Deadline
from gateway.converters import task_status
from gateway.versions import ModelVersions
from services.runtime.errors import InvalidInput, TooLarge, XCloudError
from services.runtime.interceptors import REQUEST_ID_KEY
from xcloud.v1 import gateway_pb2, text_quality_pb2

TASK, BACKEND = "content_quality", "text_quality"
METHOD = "/xcloud.v1.TextQuality/Score"
CALLER_ERRORS = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
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
    def __init__(self, backends: Backends, cache: ResultCache, versions: ModelVersions,
                 max_records: int = MAX_RECORDS):
        self._max_records = max_records
        self._backends = backends
        self._cache = cache
        self._versions = versions
        self._flights = SingleFlight()

    async def score(self, request: gateway_pb2.ScoreContentRequest, deadline: Deadline,
                    request_id: str) -> gateway_pb2.ScoreContentResponse:
        if not request.records:
            raise InvalidInput("records is empty: send at least one content record")
        if len(request.records) > self._max_records:
            raise TooLarge(f"{len(request.records)} records in one request; at most "
                           f"{self._max_records} are accepted, split the batch")
        metadata = ((REQUEST_ID_KEY, request_id),)
        try:
            response = await self._answer(request, deadline, metadata)
        except BackendError as exc:
            if exc.code in CALLER_ERRORS:
                raise XCloudError(exc.details, exc.code) from exc
            response = gateway_pb2.ScoreContentResponse(status=task_status(TASK, exc.code, exc.message))
        response.request_id = request_id
        return response

    async def _answer(self, request, deadline: Deadline, metadata) -> gateway_pb2.ScoreContentResponse:
        version = await self._versions.of(BACKEND, deadline)
        if version is None or request.no_cache:
            ResultCache.bypass(TASK)
            return await self._compute(request, deadline, metadata)
        key = cache_key(TASK, await _digest(request.records), version, b"")
        result, _shared = await self._flights.run(
            key, lambda: self._lookup_or_compute(key, request, deadline, metadata)
        )
        return result

    async def _lookup_or_compute(self, key: str, request, deadline: Deadline, metadata):
        response = await self._cache.get(TASK, key, gateway_pb2.ScoreContentResponse.FromString)
        if response is not None:
            response.status.cached = True
            return response
        response = await self._compute(request, deadline, metadata)
        await self._cache.put(key, response.SerializeToString(deterministic=True))
        return response

    async def _compute(self, request, deadline: Deadline, metadata) -> gateway_pb2.ScoreContentResponse:
        client = self._backends.get(BACKEND)
        if client is None:
            raise BackendError(BACKEND, grpc.StatusCode.FAILED_PRECONDITION,
                               f"no backend {BACKEND!r} is configured on this gateway")
        reply = await client.call(METHOD, text_quality_pb2.ScoreRequest(records=request.records),
                                  text_quality_pb2.ScoreResponse, deadline, metadata)
        status = task_status(TASK, model=reply.model)
        return gateway_pb2.ScoreContentResponse(scores=reply.scores, status=status)


