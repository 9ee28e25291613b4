from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.runtime.settings import ServiceSettings
from xcloud import names, ports

PORTS = ports.SERVICES["fine_grained"]  # xcloud/ports.py: one table for every process


class FineGrainedSettings(ServiceSettings):
    """Environment prefix ``XCLOUD_FINE_GRAINED_`` (e.g. ``XCLOUD_FINE_GRAINED_PORT``)."""

    model_config = SettingsConfigDict(env_prefix="XCLOUD_FINE_GRAINED_", extra="ignore")

    port: int = Field(PORTS.grpc, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        PORTS.metrics, description="Prometheus port; None disables, 0 = any.")
    models: list[str] = Field(
        [names.MOBILENET_V2_IMAGENET, names.FLOWERS17],
        description="Classifiers this process serves, chosen per request; add a model trained "
        'with `xcloud train fine-grained` here, e.g. \'["mobilenet_v2_imagenet", "plants"]\'.',
    )
    default_model: str = Field(
        names.MOBILENET_V2_IMAGENET, description="Classifier used when a request names none."
    )
    default_top_k: int = Field(5, description="Labels returned when a request asks for 0.")
