"""Settings of every XCloud server, and those only the model services take on top.

``ServerSettings`` is what any of our gRPC processes takes, the gateway included: host and
ports, message and image-size limits, admission, TLS, drain, logging and tracing.
``ServiceSettings`` adds what only a process that serves models takes: the model repository,
onnxruntime's providers and threads, dynamic batching and the decoded-pixel limit (the split
MLServer makes between its Settings and ModelSettings). Each process subclasses one of them
with its own env prefix, so its documentation (docs/configuration.md) lists only what it uses.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServerSettings(BaseSettings):
    """What every gRPC server of ours takes; read from the environment (prefix per process,
    e.g. ``XCLOUD_GATEWAY_PORT``)."""

    model_config = SettingsConfigDict(env_prefix="XCLOUD_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the gRPC server binds to.")
    port: int = Field(0, description="gRPC port; 0 picks a free one (tests).")
    metrics_port: int | None = Field(
        None, description="Prometheus /metrics port; None disables, 0 picks a free one."
    )
    max_image_bytes: int = Field(20 * 1024 * 1024, description="Largest encoded image accepted.")
    max_message_bytes: int = Field(32 * 1024 * 1024, description="Largest gRPC message accepted.")
    max_concurrent_rpcs: int = Field(
        256, ge=1, description="Calls handled at once; beyond, RESOURCE_EXHAUSTED at once "
        "(health and reflection are not counted).",
    )
    max_inflight_bytes: int = Field(
        256 * 1024 * 1024, ge=1,
        description="Request bytes of the calls handled at once; beyond, RESOURCE_EXHAUSTED "
        "(one call is always admitted alone, up to max_message_bytes).",
    )
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate chain of this server; with tls_key_file, the port "
        "speaks TLS only (None: plaintext, for a trusted network or local runs).",
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_client_ca_file: Path | None = Field(
        None, description="PEM CA bundle: when set, every client must present a certificate "
        "it signed (mutual TLS; the services behind the gateway accept only the gateway).",
    )
    tls_client_names: list[str] = Field(
        [], description="With tls_client_ca_file: the certificate names (CN or DNS SAN) "
        "allowed to call, e.g. [\"xcloud-gateway\"]; others get PERMISSION_DENIED. Empty: "
        "any certificate of that CA.",
    )
    drain_seconds: float = Field(
        5.0, description="On SIGTERM: time in-flight calls get to finish after readiness flips."
    )
    log_level: str = Field("INFO", description="Python logging level.")
    otlp_endpoint: str | None = Field(
        None, pattern=r"^(https?://[^/]+)?$",
        description="OpenTelemetry collector to export trace spans to over OTLP/gRPC, e.g. "
        '"http://otel-collector:4317" (https:// for TLS); None or empty: no exporter, spans '
        "cost ~nothing (docs/operations.md#tracing).",
    )


class ServiceSettings(ServerSettings):
    """A model service's settings: the server's, and how it loads and runs its models (prefix
    per service, e.g. ``XCLOUD_FACE_DETECTION_MAX_BATCH_SIZE``)."""

    model_repository: Path = Field(
        REPO_ROOT / "models" / "repository",
        description="Folder of <model>/<version>/{model.onnx, model.json}.",
    )
    providers: list[str] = Field(
        ["CPUExecutionProvider"],
        description="onnxruntime execution providers in order of preference, e.g. "
        '["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"].',
    )
    intra_op_threads: int = Field(0, description="onnxruntime threads per session; 0 = default.")
    max_batch_size: int = Field(16, description="Largest batch the dynamic batcher forms.")
    max_batch_delay_ms: float = Field(
        2.0, description="How long the batcher waits for a batch to fill once one request is in."
    )
    max_queue_size: int = Field(
        256, description="Requests waiting per model before new ones are refused "
                         "(RESOURCE_EXHAUSTED)."
    )
    inference_threads: int = Field(2, description="Executor threads running inference.")
    batching: bool = Field(True, description="Dynamic batching on (True) or one request a run.")
    max_image_pixels: int = Field(40_000_000, description="Largest decoded image (width*height).")
