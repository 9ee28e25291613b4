"""Model-version lookups (part of every cache key) against a real backend whose ListModels is
slow: a caller with a short deadline must not turn the cache off for everyone else."""
from __future__ import annotations

import asyncio

from gateway.clients import Backends, Deadline
from gateway.settings import BackendSettings, GatewaySettings
from gateway.versions import ModelVersions
from tests.gateway.loopback_backends import CatalogMixin, serve

LIST_DELAY_S = 0.3


class SlowCatalog(CatalogMixin):
    async def ListModels(self, request, context):
        await asyncio.sleep(LIST_DELAY_S)
        return await super().ListModels(request, context)


async def versions_of_slow_backend() -> tuple[ModelVersions, Backends, object]:
    server, address = await serve(SlowCatalog())
    settings = GatewaySettings(port=0, metrics_port=None,
                               backends={"slow": BackendSettings(address=address)})
    backends = Backends(settings)
    return ModelVersions(backends, ttl_s=30), backends, server


async def test_a_short_deadline_does_not_disable_the_lookup_for_later_callers():
    versions, backends, server = await versions_of_slow_backend()
    try:
        assert await versions.of("slow", Deadline.after(0.05)) is None  # this caller can't wait
        assert await versions.of("slow", Deadline.after(5)) == "loopback_model@1"
    finally:
        await backends.close()
        await server.stop(0)


async def test_joiners_of_a_lookup_keep_their_own_deadline():
    versions, backends, server = await versions_of_slow_backend()
    try:
        short, patient = await asyncio.gather(versions.of("slow", Deadline.after(0.05)),
                                              versions.of("slow", Deadline.after(5)))
        assert short is None and patient == "loopback_model@1"
    finally:
        await backends.close()
        await server.stop(0)
