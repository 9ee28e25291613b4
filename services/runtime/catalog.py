"""The ModelRepository RPC every process serves: which models it holds, from their cards."""
from __future__ import annotations

from collections.abc import Callable

from services.runtime.pool import ModelStatus
from xcloud.v1 import common_pb2, common_pb2_grpc


def model_description(status: ModelStatus, service: str) -> common_pb2.ModelDescription:
    description = common_pb2.ModelDescription(
        model=common_pb2.ModelInfo(name=status.name), service=service, installed=status.installed
    )
    if status.card is not None:
        card = status.card
        description.model.version = card.version
        description.summary = card.summary
        description.source = card.provenance
        description.license = card.license
        description.metrics.update(card.headline_metrics())
    return description


class CatalogServicer(common_pb2_grpc.ModelRepositoryServicer):
    def __init__(self, service: str, statuses: Callable[[], list[ModelStatus]]):
        self._service = service
        self._statuses = statuses

    async def ListModels(self, request, context):
        return common_pb2.ListModelsResponse(
            models=[model_description(s, self._service) for s in self._statuses()]
        )
