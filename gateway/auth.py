"""API keys ("authorization: Bearer KEY" or "x-api-key: KEY" metadata), the tenant each is
bound to, and a rate limit per key.

Keys are kept only as sha256 digests (``api_key_file``: one "sha256-hex tenant" a line), so
neither the settings, a dump of the process nor a log line can reveal one. A presented key is
hashed and looked up; digests are compared in constant time. Plain ``api_keys`` from older
settings are hashed on load.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import grpc

from services.runtime.errors import XCloudError

TENANT_HEADER = "x-tenant-id"
DEFAULT_TENANT = "default"
RETRY_AFTER_KEY = "retry-after-ms"  # trailing metadata of a rate-limited call


class Unauthenticated(XCloudError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(XCloudError):
    code = grpc.StatusCode.PERMISSION_DENIED


class RateLimited(XCloudError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


def digest_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key(metadata) -> str | None:
    for key, value in metadata or ():
        if key == "x-api-key":
            return str(value)
        if key == "authorization" and str(value).lower().startswith("bearer "):
            return str(value)[len("bearer "):].strip()
    return None


@dataclass
class _Bucket:
    """Token bucket: ``rate`` calls a second, bursts up to ``burst``."""

    tokens: float
    at: float

    def take(self, rate: float, burst: float, now: float) -> float:
        """0 when a call may go now, else the seconds until one may."""
        self.tokens = min(burst, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


class ApiKeys:
    """``keys``: plain keys or "sha256:<hex>" digests; ``tenants``: key (or digest entry) ->
    tenant. ``rate``/``burst``: calls a second per key (0 = no limit)."""

    def __init__(self, keys: list[str], tenants: dict[str, str] | None = None,
                 rate: float = 0.0, burst: float = 0.0):
        self._digests = {_as_digest(k) for k in keys if k}
        self._tenants = {_as_digest(k): t for k, t in (tenants or {}).items() if k and t}
        self._rate, self._burst = rate, max(burst, 1.0)
        self._buckets: dict[str, _Bucket] = {}

    @classmethod
    def from_settings(cls, settings) -> ApiKeys:
        """Keys, tenants and rate limits of ``GatewaySettings``."""
        return cls(settings.api_keys, settings.api_key_tenants,
                   settings.api_rate_per_key, settings.api_burst_per_key)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, context: grpc.aio.ServicerContext) -> None:
        """UNAUTHENTICATED unless keys are off or the call carries a known key;
        RESOURCE_EXHAUSTED (with ``retry-after-ms``) past the key's rate."""
        if not self._digests:
            return
        digest = self._known_digest(context)
        if self._rate > 0:
            self._limit(digest, context)

    def _known_digest(self, context: grpc.aio.ServicerContext) -> str:
        presented = presented_key(context.invocation_metadata())
        if presented is None:
            raise Unauthenticated(
                'missing API key: send "authorization: Bearer KEY" or "x-api-key: KEY"')
        digest = digest_of(presented)
        # Compared against every digest in constant time (no short cut: a list, not a
        # generator), so timing tells nothing about them.
        matches = [hmac.compare_digest(digest, known) for known in self._digests]
        if not any(matches):
            raise Unauthenticated("invalid API key")
        return digest

    def _limit(self, digest: str, context: grpc.aio.ServicerContext) -> None:
        now = time.monotonic()
        bucket = self._buckets.setdefault(digest, _Bucket(self._burst, now))
        wait = bucket.take(self._rate, self._burst, now)
        if wait > 0:
            retry_ms = max(1, int(wait * 1000 + 0.999))
            context.set_trailing_metadata(((RETRY_AFTER_KEY, str(retry_ms)),))
            raise RateLimited(f"rate limit of {self._rate:g} calls a second for this API key "
                              f"reached; retry after {retry_ms} ms")

    def tenant_of(self, context: grpc.aio.ServicerContext) -> str:
        """Who the call acts for. With keys on, the tenant bound to the caller's key (so no
        caller can claim another's galleries), "default" for a key bound to none (see
        ``scoped_tenant``); with keys off (a trusted network) the caller's own x-tenant-id
        metadata; "default" when neither says."""
        metadata = context.invocation_metadata()
        if self._digests:
            return self._tenants.get(digest_of(presented_key(metadata) or ""), DEFAULT_TENANT)
        claimed = next((str(v) for k, v in metadata or () if k == TENANT_HEADER), "")
        return claimed or DEFAULT_TENANT

    def scoped_tenant(self, context: grpc.aio.ServicerContext) -> str:
        """The tenant of a tenant-scoped call (galleries): PERMISSION_DENIED for a key bound
        to no tenant, instead of sharing "default" with every other unbound key."""
        if self._digests:
            tenant = self._tenants.get(digest_of(presented_key(context.invocation_metadata())
                                                 or ""))
            if tenant is None:
                raise PermissionDenied("this API key is bound to no tenant, so it cannot use "
                                       "identity galleries: bind it to one in api_key_file")
            return tenant
        return self.tenant_of(context)


def _as_digest(entry: str) -> str:
    return entry[len("sha256:"):].lower() if entry.startswith("sha256:") else digest_of(entry)
