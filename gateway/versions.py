"""Which model versions each backend serves right now: part of every cache key.

Asked through the ModelRepository.ListModels RPC every XCloud process serves, and trusted for
``model_version_ttl_s`` so that the lookup costs one RPC per backend per TTL, not per request.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from gateway.cache import SingleFlight
from gateway.clients import BackendError, Backends, Deadline
from xcloud.v1 import common_pb2

log = logging.getLogger(__name__)
LOOKUP_TIMEOUT_S = 1.0  # a hung backend must not eat the whole deadline of the real call
RETRY_FAILED_S = 1.0    # after a failed lookup, requests skip it this long (no cache meanwhile)


@dataclass(frozen=True)
class _Known:
    fingerprint: str
    fetched_at: float


def fingerprint(listing: common_pb2.ListModelsResponse) -> str:
    """Installed models as sorted "name@version" pairs: changes whenever any version does."""
    return ",".join(sorted(
        f"{m.model.name}@{m.model.version}" for m in listing.models if m.installed
    ))


class ModelVersions:
    def __init__(self, backends: Backends, ttl_s: float):
        self._backends = backends
        self._ttl_s = ttl_s
        self._known: dict[str, _Known] = {}
        self._failed_at: dict[str, float] = {}
        self._lookups = SingleFlight()

    async def of(self, backend: str, deadline: Deadline) -> str | None:
        """The backend's fingerprint, or None when it cannot be asked now (no caching then)."""
        now = asyncio.get_running_loop().time()
        known = self._known.get(backend)
        if known is not None and now - known.fetched_at < self._ttl_s:
            return known.fingerprint
        if now - self._failed_at.get(backend, float("-inf")) < RETRY_FAILED_S:
            return None
        # Versions that cannot be confirmed are not guessed from the last answer: a backend
        # coming back from a rollout may serve a new model, and stale answers must not be.
        # The lookup has its own time limit, shared by every caller that joins it; each caller
        # waits only as long as its own deadline allows. So a caller with a short deadline
        # neither fails the lookup for the others nor marks the backend as failed.
        lookup = self._lookups.run(backend, lambda: self._fetch(backend))
        remaining = deadline.remaining()
        try:
            fresh, _shared = await asyncio.wait_for(lookup, max(0.0, remaining)) \
                if remaining is not None else await lookup
        except asyncio.TimeoutError:
            return None  # no cache for this call; the lookup goes on for the next ones
        return fresh

    async def _fetch(self, backend: str) -> str | None:
        client = self._backends.get(backend)
        if client is None:
            return None
        try:
            listing = await client.list_models(Deadline.after(LOOKUP_TIMEOUT_S))
        except BackendError as exc:
            log.debug("model versions of %s unknown: %s", backend, exc.message)
            self._failed_at[backend] = asyncio.get_running_loop().time()
            return None
        value = fingerprint(listing)
        self._known[backend] = _Known(value, asyncio.get_running_loop().time())
        return value
