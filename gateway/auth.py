"""Optional static API keys ("authorization: Bearer KEY" or "x-api-key: KEY" metadata) and
the tenant a call acts for."""
from __future__ import annotations

import hmac

import grpc

from services.runtime.errors import XCloudError


class Unauthenticated(XCloudError):
    code = grpc.StatusCode.UNAUTHENTICATED


def presented_key(metadata) -> str | None:
    for key, value in metadata or ():
        if key == "x-api-key":
            return str(value)
        if key == "authorization" and str(value).lower().startswith("bearer "):
            return str(value)[len("bearer "):].strip()
    return None


TENANT_HEADER = "x-tenant-id"
DEFAULT_TENANT = "default"


class ApiKeys:
    def __init__(self, keys: list[str], tenants: dict[str, str] | None = None):
        self._keys = [k.encode() for k in keys if k]
        self._tenants = dict(tenants or {})

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def check(self, context: grpc.aio.ServicerContext) -> None:
        """Raise UNAUTHENTICATED unless keys are off or the call carries a known one."""
        if not self._keys:
            return
        presented = presented_key(context.invocation_metadata())
        if presented is None:
            raise Unauthenticated(
                'missing API key: send "authorization: Bearer KEY" or "x-api-key: KEY"'
            )
        # Compared against every key in constant time so timing tells nothing about them.
        matches = [hmac.compare_digest(presented.encode(), key) for key in self._keys]
        if not any(matches):
            raise Unauthenticated("invalid API key")

    def tenant_of(self, context: grpc.aio.ServicerContext) -> str:
        """Who the call acts for. With keys on, the tenant bound to the caller's key (so no
        caller can claim another's galleries); with keys off (a trusted network) the caller's
        own x-tenant-id metadata; "default" when neither says."""
        metadata = context.invocation_metadata()
        if self._keys:
            return self._tenants.get(presented_key(metadata) or "", DEFAULT_TENANT)
        claimed = next((str(v) for k, v in metadata or () if k == TENANT_HEADER), "")
        return claimed or DEFAULT_TENANT
