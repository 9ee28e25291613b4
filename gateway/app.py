"""The gateway as the serving runtime runs it (health, reflection, metrics, drain from there)."""
from __future__ import annotations

import logging

import grpc

from gateway.analyze import Analyzer
from gateway.cache import make_cache
from gateway.cached import CachedCalls
from gateway.clients import Backends
from gateway.content import ContentScorer
from gateway.gallery import Gallery
from gateway.servicer import GatewayServicer
from gateway.settings import GatewaySettings
from gateway.tasks import TaskRegistry, default_registry
from gateway.versions import ModelVersions
from xcloud.v1 import gateway_pb2_grpc

log = logging.getLogger(__name__)
SERVICE_NAME = "xcloud.v1.Gateway"


class GatewayApp:
    name = "gateway"

    def __init__(self, settings: GatewaySettings, registry: TaskRegistry | None = None):
        self.service_names = [SERVICE_NAME]  # no ModelRepository: the gateway holds no model
        self.settings = settings
        self.registry = registry if registry is not None else default_registry()
        self.backends = Backends(settings)
        self.cache = make_cache(
            settings.redis_url, settings.cache_ttl_s, settings.cache_max_entries,
            settings.redis_timeout_s, settings.redis_retry_after_s,
        )
        self.versions = ModelVersions(self.backends, settings.model_version_ttl_s)
        cached = CachedCalls(self.cache, self.versions)  # one single-flight table for all
        self.analyzer = Analyzer(settings, self.registry, self.backends, cached)
        self.scorer = ContentScorer(self.backends, cached)
        self.gallery = Gallery(self.backends, settings.max_image_bytes)

    def register(self, server: grpc.aio.Server) -> None:
        gateway_pb2_grpc.add_GatewayServicer_to_server(
            GatewayServicer(self.settings, self.analyzer, self.backends, self.registry,
                            self.scorer, self.gallery),
            server,
        )

    async def start(self) -> None:
        # Nothing to load: backends are dialled lazily, so the gateway is ready even while a
        # backend is down (its tasks then answer UNAVAILABLE).
        for name, backend in self.settings.backends.items():
            log.info("backend %s at %s serves %s", name, backend.address,
                     self.registry.for_backend(name) or "no task")
        log.info("result cache: %s", "redis" if self.settings.redis_url else "in-process LRU")

    async def stop(self) -> None:
        await self.backends.close()
        await self.cache.close()
