from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings
from xcloud import names, ports

PORTS = ports.SERVICES["text_quality"]  # xcloud/ports.py: one table for every process


class TextQualitySettings(ServiceSettings):
    """Environment prefix ``XCLOUD_TEXT_QUALITY_`` (e.g. ``XCLOUD_TEXT_QUALITY_PORT``)."""

    model_config = SettingsConfigDict(env_prefix="XCLOUD_TEXT_QUALITY_", extra="ignore")

    port: int = Field(PORTS.grpc, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        PORTS.metrics, description="Prometheus port; None disables, 0 = any.")
    model: str = Field(names.ZHIHU_MTBDNN, description="Content-quality model served.")
    max_records: int = Field(
        1024, description="Most records one Score call may carry (RESOURCE_EXHAUSTED beyond)."
    )
    # A record is 23 floats, so large batches cost next to nothing; concurrent small calls
    # are merged up to this many rows.
    max_batch_size: int = Field(256, description="Largest batch the dynamic batcher forms.")
