from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings
from xcloud import ports

PORTS = ports.SERVICES["face_detection"]  # xcloud/ports.py: one table for every process


class FaceDetectionSettings(ServiceSettings):
    """Environment prefix ``XCLOUD_FACE_DETECTION_`` (e.g. ``XCLOUD_FACE_DETECTION_PORT``)."""

    model_config = SettingsConfigDict(env_prefix="XCLOUD_FACE_DETECTION_", extra="ignore")

    port: int = Field(PORTS.grpc, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        PORTS.metrics, description="Prometheus port; None disables, 0 = any.")
    max_batch_size: int = Field(
        256,
        description="Largest batch in rows: one image brings dozens of R-Net/O-Net candidate "
        "crops, so a smaller cap would stop concurrent images from ever sharing a batch.",
    )
    max_batch_delay_ms: float = Field(
        0.0, description="How long the batcher waits for a batch to fill. 0: batches take only "
        "what is already queued. One Detect makes ~10 sequential model calls (P-Net per pyramid "
        "scale, R-Net, O-Net), so a 2 ms window cost 37 % of the requests at concurrency 1 and "
        "gained nothing at 8 or 32 (make bench, docs/benchmarks.md)."
    )
    default_model: str = Field("mtcnn", description="Detector used when a request names none.")
    min_face_size: float = Field(20.0, description="Default smallest face side, in pixels.")
    score_threshold: float = Field(
        0.95,
        description="Default final score a face needs (O-Net probability for MTCNN); 0.95 keeps "
        "SCUT-FBP5500 detection at 99.8 % with 0.006 false faces per flowers17 image "
        "(docs/models.md).",
    )
    tight_face_pad_share: float = Field(
        0.25, ge=0.0, le=1.0,
        description="Where no face is found or one fills the image (box side at least 70 % "
        "of its shorter side), detect again on the image bordered on each side by this share "
        "of its side (edge pixels repeated): MTCNN loses or misplaces a face that fills the "
        "frame. 0 disables. 0.25 finds 99.8 % of UTKFace's chips instead of 99.6 % and cuts "
        "the eye error on tightly cut SCUT-FBP5500 faces from 0.15 to 0.03 (docs/models.md).",
    )
    max_aligned_size: int = Field(
        512, description="Largest aligned crop side a caller may ask for.")
    max_faces_limit: int = Field(1000, description="Upper bound on faces returned per image.")
    detection_pixel_budget: int = Field(
        80_000_000, ge=1,
        description="Decoded pixels detected on at once by this process (~16 bytes each at "
        "peak); a call that would pass it while others run gets RESOURCE_EXHAUSTED. One call "
        "alone is always admitted up to max_image_pixels.",
    )
