"""Thin gRPC servicer of the gateway: auth, then the transport-free orchestration."""
from __future__ import annotations

import grpc

from gateway.analyze import Analyzer
from gateway.auth import TENANT_HEADER, ApiKeys
from gateway.clients import Backends, Deadline
from gateway.content import ContentScorer
from gateway.converters import backend_to_proto, merged_models
from gateway.gallery import Gallery
from gateway.settings import GatewaySettings
from gateway.tasks import TaskRegistry
from services.runtime.interceptors import REQUEST_ID_KEY, request_id_of
from xcloud.v1 import gateway_pb2, gateway_pb2_grpc


def deadline_of(context: grpc.aio.ServicerContext) -> Deadline:
    return Deadline.after(context.time_remaining())


def _forwarded(method: str):
    """The servicer method of a gallery RPC the gateway passes on unchanged, for the
    caller's tenant (one definition for the six of gallery.FORWARDED)."""

    async def rpc(self: GatewayServicer, request, context):
        return await self._gallery.forward(method, request, *self._scope(context))

    rpc.__name__ = rpc.__qualname__ = method
    return rpc


class GatewayServicer(gateway_pb2_grpc.GatewayServicer):
    def __init__(self, settings: GatewaySettings, analyzer: Analyzer, backends: Backends,
                 registry: TaskRegistry, scorer: ContentScorer, gallery: Gallery):
        self._settings = settings
        self._gallery = gallery
        self._analyzer = analyzer
        self._scorer = scorer
        self._backends = backends
        self._registry = registry
        self._keys = ApiKeys.from_settings(settings)

    async def Analyze(self, request, context):
        self._keys.check(context)
        return await self._analyzer.analyze(request, deadline_of(context), request_id_of(context),
                                            self._keys.tenant_of(context))

    async def ScoreContent(self, request, context):
        self._keys.check(context)
        return await self._scorer.score(request, deadline_of(context), request_id_of(context))

    async def ListModels(self, request, context):
        self._keys.check(context)
        metadata = ((REQUEST_ID_KEY, request_id_of(context)),)
        listings = await self._backends.list_models(deadline_of(context), metadata)
        return merged_models(listings)

    async def ListBackends(self, request, context):
        self._keys.check(context)
        backends = [
            backend_to_proto(name, backend, self._registry.for_backend(name))
            for name, backend in self._settings.backends.items()
        ]
        return gateway_pb2.ListBackendsResponse(
            backends=backends, metrics_url=self._settings.own_metrics_url()
        )

    # Identity galleries: the tenant comes from the caller's key (gateway/auth.py), never
    # from what the caller claims when keys are on.

    def _scope(self, context: grpc.aio.ServicerContext) -> tuple[Deadline, tuple]:
        self._keys.check(context)
        metadata = ((REQUEST_ID_KEY, request_id_of(context)),
                    (TENANT_HEADER, self._keys.scoped_tenant(context)))
        return deadline_of(context), metadata

    # The collection and subject RPCs go through unchanged (gallery.FORWARDED).
    CreateCollection = _forwarded("CreateCollection")
    GetCollection = _forwarded("GetCollection")
    ListCollections = _forwarded("ListCollections")
    DeleteCollection = _forwarded("DeleteCollection")
    ListSubjects = _forwarded("ListSubjects")
    DeleteSubject = _forwarded("DeleteSubject")

    async def Enroll(self, request, context):
        return await self._gallery.enroll(request, *self._scope(context))

    async def Identify(self, request, context):
        return await self._gallery.identify(request, *self._scope(context))

    async def Verify(self, request, context):
        return await self._gallery.verify(request, *self._scope(context))
