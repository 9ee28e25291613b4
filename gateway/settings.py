"""Gateway settings: which backends serve which tasks, cache, timeouts, auth."""
from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings


class BackendSettings(BaseModel):
    """How the gateway reaches one backend process (or the pods behind one Service)."""

    address: str = Field(
        description='gRPC target: "127.0.0.1:50052", or "dns:///face-detection.xcloud.svc'
        '.cluster.local:50052" so that round-robin spreads calls over every pod of a headless '
        "Kubernetes Service."
    )
    metrics_url: str = Field("", description="The backend's Prometheus endpoint (ListBackends).")


def _default_backends() -> dict[str, BackendSettings]:
    return {
        "face_detection": BackendSettings(
            address="127.0.0.1:50052", metrics_url="http://127.0.0.1:9152/metrics"
        ),
        "face_attributes": BackendSettings(
            address="127.0.0.1:50053", metrics_url="http://127.0.0.1:9153/metrics"
        ),
        "expression": BackendSettings(
            address="127.0.0.1:50054", metrics_url="http://127.0.0.1:9154/metrics"
        ),
        "fine_grained": BackendSettings(
            address="127.0.0.1:50055", metrics_url="http://127.0.0.1:9155/metrics"
        ),
        "animal_identity": BackendSettings(
            address="127.0.0.1:50056", metrics_url="http://127.0.0.1:9156/metrics"
        ),
        "text_quality": BackendSettings(
            address="127.0.0.1:50057", metrics_url="http://127.0.0.1:9157/metrics"
        ),
    }


class GatewaySettings(ServiceSettings):
    """Environment prefix ``XCLOUD_GATEWAY_``; nested fields use ``__``, e.g.
    ``XCLOUD_GATEWAY_BACKENDS__FACE_DETECTION__ADDRESS=dns:///face-detection:50052``, or the
    whole map as JSON in ``XCLOUD_GATEWAY_BACKENDS``."""

    model_config = SettingsConfigDict(
        env_prefix="XCLOUD_GATEWAY_", env_nested_delimiter="__", extra="ignore"
    )

    port: int = Field(50051, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(9151, description="Prometheus port; None disables, 0 = any.")
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
        2.0,
        description="After a Redis failure, requests bypass the cache this long before Redis "
        "is tried again (so a dead Redis costs one timeout, not one per request).",
    )
    cache_ttl_s: float = Field(3600.0, description="How long a cached result lives.")
    cache_max_entries: int = Field(2048, description="Capacity of the in-process LRU cache.")
    model_version_ttl_s: float = Field(
        30.0,
        description="How long a backend's model versions (ListModels) are trusted before "
        "being asked again; they are part of every cache key.",
    )
    backend_timeout_s: float = Field(
        10.0, description="Longest a backend call may take (the caller's deadline caps it further)."
    )
    deadline_reserve_s: float = Field(
        0.05,
        description="Time kept back from the caller's deadline so that the gateway can still "
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
    api_keys: list[str] = Field(
        [],
        description='Static API keys; when non-empty every call needs "authorization: Bearer '
        'KEY" or "x-api-key: KEY" metadata, else UNAUTHENTICATED.',
    )
    api_key_tenants: dict[str, str] = Field(
        {},
        description="API key -> the tenant its calls act for (identity galleries are per "
        'tenant); keys not listed act for "default". With api_keys empty the caller\'s own '
        'x-tenant-id metadata names the tenant.',
    )

    def own_metrics_url(self) -> str:
        """metrics_url, else derived from host and port; "" when unknown (no metrics, or port
        0, where the real port is picked at bind time: set metrics_url to publish it)."""
        if self.metrics_url or not self.metrics_port:
            return self.metrics_url
        return f"http://{self.host}:{self.metrics_port}/metrics"
