"""Where evaluation figures go: the installed model card and the committed metrics record."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from models import modelcard
from services.runtime.repository import ModelRepository
from services.runtime.settings import ServiceSettings


def publish_metrics(models: Iterable[str], metrics: dict[str, Any]) -> None:
    """Merge ``metrics`` into each model's card (if installed) and into models/metrics/."""
    repository = ModelRepository(ServiceSettings().model_repository)
    for name in models:
        if repository.is_installed(name):
            repository.write_metrics(name, metrics)
        modelcard.record_metrics(name, metrics)
