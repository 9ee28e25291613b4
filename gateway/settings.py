"""Gateway settings: which backends serve which tasks, cache, timeouts, auth."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServerSettings
from xcloud import ports

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
_KEY_LINE = re.compile(r"^(?:sha256:)?(?P<digest>[0-9a-fA-F]{64})\s+(?P<tenant>\S+)$")


class BackendSettings(BaseModel):
    """How the gateway reaches one backend process (or the pods behind one Service)."""

    address: str = Field(
        description='gRPC target: "127.0.0.1:50052", or "dns:///face-detection.xcloud.svc'
        '.cluster.local:50052" so that round-robin spreads calls over every pod of a headless '
        "Kubernetes Service."
    )
    metrics_url: str = Field("", description="The backend's Prometheus endpoint (ListBackends).")


def _default_backends() -> dict[str, BackendSettings]:
    """Every model service on this machine, at its default ports."""
    backends = {}
    for name, default in ports.SERVICES.items():
        address, metrics_url = default.local()
        backends[name] = BackendSettings(address=address, metrics_url=metrics_url)
    return backends


class GatewaySettings(ServerSettings):
    """Environment prefix ``XCLOUD_GATEWAY_``; nested fields use ``__``, e.g.
    ``XCLOUD_GATEWAY_BACKENDS__FACE_DETECTION__ADDRESS=dns:///face-detection:50052``, or the
    whole map as JSON in ``XCLOUD_GATEWAY_BACKENDS``."""

    model_config = SettingsConfigDict(
        env_prefix="XCLOUD_GATEWAY_", env_nested_delimiter="__", extra="ignore"
    )

    port: int = Field(ports.GATEWAY.grpc, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        ports.GATEWAY.metrics, description="Prometheus port; None disables, 0 = any.")
    metrics_url: str = Field(
        "",
        description="The gateway's own metrics endpoint as ListBackends reports it; empty = "
        "derived from host and metrics_port.",
    )
    backends: dict[str, BackendSettings] = Field(
        default_factory=_default_backends,
        description="Backend name -> how to reach it; tasks name their backend (gateway/tasks.py).",
    )
    redis_url: str | None = Field(
        None,
        description='Result cache in Redis, e.g. "redis://redis:6379/0" (shared by gateway '
        "replicas); None = in-process LRU.",
    )
    redis_timeout_s: float = Field(
        0.25, description="Socket timeout of one Redis command; past it the cache is bypassed."
    )
    redis_retry_after_s: float = Field(
        2.0, description="After a Redis failure, requests bypass the cache this long before Redis "
        "is tried again (so a dead Redis costs one timeout, not one per request).",
    )
    cache_ttl_s: float = Field(3600.0, description="How long a cached result lives.")
    cache_max_entries: int = Field(2048, description="Capacity of the in-process LRU cache.")
    model_version_ttl_s: float = Field(
        30.0, description="How long a backend's model versions (ListModels) are trusted before "
        "being asked again; they are part of every cache key.",
    )
    backend_timeout_s: float = Field(
        10.0, description="Longest a backend call may take (the caller's deadline caps it "
        "further).",
    )
    deadline_reserve_s: float = Field(
        0.05, description="Time kept back from the caller's deadline so that the gateway can still "
        "answer with a partial result when a backend runs out of time.",
    )
    retries: int = Field(
        2, description="Extra attempts of a backend call that failed with UNAVAILABLE (only)."
    )
    retry_backoff_s: float = Field(
        0.05, description="Base of the jittered exponential backoff between retries."
    )
    max_faces: int = Field(
        32, description="Per-face tasks run on at most this many faces (highest score first)."
    )
    api_key_file: Path | None = Field(
        None,
        description='API keys as sha256 digests, one "<sha256 hex of the key> <tenant>" a line '
        "(# comments); each key is bound to the tenant its calls act for. Make a line with "
        "`printf %s KEY | sha256sum`. Keys from it join api_keys.",
    )
    api_keys: list[str] = Field(
        [],
        description='Static API keys (plain, or "sha256:<hex>" digests); when non-empty every '
        'call needs "authorization: Bearer KEY" or "x-api-key: KEY" metadata, else '
        "UNAUTHENTICATED. Prefer api_key_file: plain keys are hashed on load.",
    )
    api_rate_per_key: float = Field(
        0.0, ge=0, description="Calls a second each API key may make (0 = unlimited); beyond, "
        "RESOURCE_EXHAUSTED with retry-after-ms in the trailing metadata.",
    )
    api_burst_per_key: float = Field(
        20.0, ge=1, description="Calls an API key may make at once above its rate.",
    )
    api_key_tenants: dict[str, str] = Field(
        {},
        description="API key -> the tenant its calls act for (identity galleries are per "
        'tenant); keys not listed act for "default". With api_keys empty the caller\'s own '
        'x-tenant-id metadata names the tenant.',
    )

    backend_tls_ca_file: Path | None = Field(
        None, description="PEM CA that signed the backends' server certificates; set, the "
        "gateway calls every backend over TLS and checks its certificate (None: plaintext).",
    )
    backend_tls_cert_file: Path | None = Field(
        None, description="The gateway's client certificate (PEM), presented to backends that "
        "require mutual TLS (their tls_client_ca_file, tls_client_names).",
    )
    backend_tls_key_file: Path | None = Field(
        None, description="PEM private key of backend_tls_cert_file.")
    backend_tls_server_name: str | None = Field(
        None, description="Name the backends' certificates are checked against, when it is "
        "not the host of their address (e.g. one certificate for every pod behind an IP).",
    )

    @model_validator(mode="after")
    def _load_key_file(self) -> GatewaySettings:
        if self.api_key_file is not None:
            keys, tenants = read_key_file(self.api_key_file)
            self.api_keys = [*self.api_keys, *keys]
            self.api_key_tenants = {**self.api_key_tenants, **tenants}
        if not self.api_keys and self.host not in LOOPBACK:
            log.warning("*** API keys are OFF on %s, which is not a loopback address: anyone "
                        "who reaches this port is trusted, including the x-tenant-id they "
                        "claim. Set api_key_file. ***", self.host)
        return self

    def own_metrics_url(self) -> str:
        """metrics_url, else derived from host and port; "" when unknown (no metrics, or port
        0, where the real port is picked at bind time: set metrics_url to publish it)."""
        if self.metrics_url or not self.metrics_port:
            return self.metrics_url
        return f"http://{self.host}:{self.metrics_port}/metrics"


def read_key_file(path: Path) -> tuple[list[str], dict[str, str]]:
    """("sha256:<hex>" entries, entry -> tenant) from a key file; ValueError naming the line."""
    keys: list[str] = []
    tenants: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _KEY_LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: expected '<64 hex digits of sha256(key)> "
                             "<tenant>' (the key itself never goes in this file)")
        entry = f"sha256:{match['digest'].lower()}"
        keys.append(entry)
        tenants[entry] = match["tenant"]
    return keys, tenants
