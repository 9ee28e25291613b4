from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings
from xcloud import ports

PORTS = ports.SERVICES["face_attributes"]  # xcloud/ports.py: one table for every process


class FaceAttributesSettings(ServiceSettings):
    """Environment prefix ``XCLOUD_FACE_ATTRIBUTES_`` (e.g. ``XCLOUD_FACE_ATTRIBUTES_PORT``)."""

    model_config = SettingsConfigDict(env_prefix="XCLOUD_FACE_ATTRIBUTES_", extra="ignore")

    port: int = Field(PORTS.grpc, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        PORTS.metrics, description="Prometheus port; None disables, 0 = any.")
    min_crop_side: int = Field(
        112, description="Smallest aligned crop accepted; smaller ones would be upscaled for "
        "every model. The gateway sends 224."
    )
    max_crop_side: int = Field(1024, description="Largest aligned crop accepted.")
    max_faces_per_call: int = Field(
        64, description="Most faces one Predict or Embed call may carry in `faces` (checked "
        "before any crop is decoded; beyond it RESOURCE_EXHAUSTED). The gateway sends at most "
        "its max_faces (32)."
    )
