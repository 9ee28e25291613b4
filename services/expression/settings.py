from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings
from xcloud import names, ports

PORTS = ports.SERVICES["expression"]  # xcloud/ports.py: one table for every process


class ExpressionSettings(ServiceSettings):
    """Environment prefix ``XCLOUD_EXPRESSION_`` (e.g. ``XCLOUD_EXPRESSION_PORT``)."""

    model_config = SettingsConfigDict(env_prefix="XCLOUD_EXPRESSION_", extra="ignore")

    port: int = Field(PORTS.grpc, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        PORTS.metrics, description="Prometheus port; None disables, 0 = any.")
    model: str = Field(names.FACEAPI_EXPRESSION, description="Served expression model.")
    margin: float = Field(
        -0.2, description="Context around the face template in the model's view, as "
        "alignment.reframe takes it (at most 0.4; below 0 tighter than the ArcFace template). "
        "face-api's nets do best around -0.2 (measured for its age/gender net; no labelled "
        "expression set exists here to measure this one)."
    )
    min_crop_side: int = Field(
        112, description="Smallest aligned crop accepted (the model takes 112x112). The gateway "
        "sends 224."
    )
    max_crop_side: int = Field(1024, description="Largest aligned crop accepted.")
    max_faces_per_call: int = Field(
        64, description="Most faces one Classify call may carry in `faces` (checked before any "
        "crop is decoded; beyond it RESOURCE_EXHAUSTED). The gateway sends at most its "
        "max_faces (32)."
    )
