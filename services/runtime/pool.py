"""The models one service serves: loaded from the repository, warmed up, each behind a batcher.

A model that is not installed does not stop the service: it is reported as not installed
(health stays SERVING for the models that are there, ListModels says which are missing and
requests for it fail with FAILED_PRECONDITION and a message saying how to build it).
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from services.runtime import metrics
from services.runtime.batcher import BatchPolicy, DynamicBatcher
from services.runtime.errors import ModelNotInstalled
from services.runtime.repository import ModelCard, ModelRepository
from services.runtime.session import LoadedModel
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)
DEFAULT_FREE_DIM = 64  # stands in for dynamic non-batch dims (height, width) at warm-up


@dataclass(frozen=True)
class ModelStatus:
    name: str
    installed: bool
    card: ModelCard | None


def policy_from(settings: ServiceSettings) -> BatchPolicy:
    return BatchPolicy(
        max_batch_size=settings.max_batch_size,
        max_delay_s=settings.max_batch_delay_ms / 1000.0,
        max_queue_size=settings.max_queue_size,
        concurrent_batches=settings.inference_threads,
        enabled=settings.batching,
    )


class ModelPool:
    def __init__(self, settings: ServiceSettings, names: list[str]):
        self._settings = settings
        self._names = names
        self._repository = ModelRepository(settings.model_repository)
        self._executor = ThreadPoolExecutor(settings.inference_threads, thread_name_prefix="infer")
        self.models: dict[str, LoadedModel] = {}
        self._batchers: dict[str, DynamicBatcher] = {}

    async def start(self) -> None:
        """Load and warm up every installed model; blocking work runs off the event loop."""
        loop = asyncio.get_running_loop()
        for name in self._names:
            if not self._repository.is_installed(name):
                log.warning("model %s is not installed (run `make models`); serving without it",
                            name)
                continue
            card = self._repository.get(name)
            model = await loop.run_in_executor(self._executor, self._load, card)
            self.models[name] = model
            batcher = DynamicBatcher(model.run, self._executor, self._policy(card),
                                     model.name, model.version)
            batcher.start()
            self._batchers[name] = batcher
            metrics.MODEL_LOADED.labels(model.name, model.version).set(1)

    def _policy(self, card: ModelCard) -> BatchPolicy:
        """The settings' policy, with the batch capped where the model card says so (a model
        whose batches grow costly, e.g. BlazeFace at 256x256 per row)."""
        policy = policy_from(self._settings)
        cap = card.serving.max_batch_size
        return replace(policy, max_batch_size=min(policy.max_batch_size, cap)) if cap else policy

    def _load(self, card: ModelCard) -> LoadedModel:
        model = LoadedModel(card, self._settings.providers, self._settings.intra_op_threads)
        for batch_size in _buckets(self._policy(card).max_batch_size):
            model.run(_example_batch(model, batch_size))
        return model

    async def stop(self) -> None:
        await asyncio.gather(*(b.stop() for b in self._batchers.values()))
        for model in self.models.values():
            metrics.MODEL_LOADED.labels(model.name, model.version).set(0)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def model(self, name: str) -> LoadedModel:
        if name not in self.models:
            raise ModelNotInstalled(
                f"model {name} is not installed on this server; build it with `make models`"
            )
        return self.models[name]

    def max_batch_size(self, name: str) -> int:
        """The most rows one run of ``name`` takes (what it was warmed up to)."""
        return self._policy(self.model(name).card).max_batch_size

    async def infer(self, name: str, rows: np.ndarray,
                    deadline: float | None = None) -> list[np.ndarray]:
        """Run rows through ``name`` via its dynamic batcher."""
        self.model(name)
        return await self._batchers[name].submit(rows, deadline)

    def statuses(self) -> list[ModelStatus]:
        return [
            ModelStatus(n, n in self.models, self.models[n].card if n in self.models else None)
            for n in self._names
        ]


def _buckets(max_batch_size: int) -> list[int]:
    sizes, size = [], 1
    while size < max_batch_size:
        sizes.append(size)
        size *= 2
    return sizes + [max_batch_size]


def _example_batch(model: LoadedModel, batch_size: int) -> np.ndarray:
    declared = model.session.get_inputs()[0].shape
    free = [d if isinstance(d, int) and d > 0 else DEFAULT_FREE_DIM for d in declared[1:]]
    shape = [batch_size] + free
    return np.zeros(shape, dtype=np.float32)
