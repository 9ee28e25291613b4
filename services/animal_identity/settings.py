from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import REPO_ROOT, ServiceSettings
from xcloud import names, ports

PORTS = ports.SERVICES["animal_identity"]  # xcloud/ports.py: one table for every process


class AnimalIdentitySettings(ServiceSettings):
    """Environment prefix ``XCLOUD_ANIMAL_IDENTITY_`` (e.g.
    ``XCLOUD_ANIMAL_IDENTITY_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="XCLOUD_ANIMAL_IDENTITY_", extra="ignore")

    port: int = Field(PORTS.grpc, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        PORTS.metrics, description="Prometheus port; None disables, 0 = any.")
    database_url: str | None = Field(
        None, description="PostgreSQL with pgvector, e.g. postgresql://user:pw@host:5432/xcloud "
        "(production). Unset: an embedded PostgreSQL runs on data_dir.",
    )
    data_dir: Path = Field(
        REPO_ROOT / ".cache" / "gallery-pg",
        description="Data directory of the embedded PostgreSQL (used when database_url is unset).",
    )
    embedded_shared_buffers: str = Field(
        "512MB",
        description="shared_buffers of the embedded PostgreSQL: the HNSW index should fit.",
    )
    pool_size: int = Field(8, description="Database connections held by the service.")
    database_wait_s: float = Field(
        10.0, description="Longest wait for a database connection (shorter when the caller's "
        "deadline is nearer); past it the call fails UNAVAILABLE and may be retried.")
    face_model: str = Field(
        names.FACE_EMBEDDING, description="Embedding model of FACE collections "
        "(faceapi_recognition: face-api's 128-d descriptor, with face_threshold 0.6).")
    face_threshold: float | None = Field(
        None, description="Euclidean distance below which two face embeddings are one person; "
        "None: the model card's calibrated value (identity.threshold, FAR 1e-3).",
    )
    face_chip_padding: float = Field(
        0.25, description="Padding of the dlib-style face chip the face model sees, as a share "
        "of the face on each side (dlib's default; it trained the descriptor on such chips).",
    )
    generic_model: str = Field(
        names.MOBILENET_V2_FEATURES, description="Embedding model of GENERIC collections."
    )
    generic_threshold: float = Field(
        0.5, description="Distance between L2-normalised generic embeddings below which two "
        "images are taken for the same subject (not calibrated on identities: see the proto).",
    )
    animal_model: str = Field(
        names.ANIMAL_REID, description="Embedding model of ANIMAL collections.")
    animal_threshold: float | None = Field(
        None, description="Same-animal distance of ANIMAL collections with no local-feature "
        "match; None: the model card's calibrated value (identity.threshold).")
    animal_rerank: bool = Field(
        True, description="Re-rank ANIMAL Identify answers by SIFT keypoints + RANSAC inliers "
        "fused with the global distance (rerank.py); False: global distance only.")
    hnsw_m: int = Field(16, description="HNSW graph degree of new collections' indexes.")
    hnsw_ef_construction: int = Field(
        128, description="HNSW build beam of new collections' indexes (128: recall@1 0.994 at "
        "ef_search 384 over 1M random 128-d vectors, docs/benchmarks.md)."
    )
    hnsw_ef_search: int = Field(
        384, description="HNSW query beam: higher finds the true nearest subject more often, "
        "slower (1M vectors on 2 cores: 384 -> p50 18 ms, recall@1 0.994)."
    )
    max_images_per_enroll: int = Field(32, description="Images one Enroll call may carry.")
    max_top_k: int = Field(100, description="Largest top_k an Identify call may ask for.")
    default_tenant: str = Field(
        "default", description="Tenant of calls without x-tenant-id metadata (the gateway sets "
        "it from the API key in production).",
    )
