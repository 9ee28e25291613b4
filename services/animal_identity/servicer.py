"""Thin gRPC servicer: request -> converters -> handler -> converters -> response.

The tenant is the ``x-tenant-id`` metadata of the call (the gateway sets it from the caller's
API key); calls without it belong to the configured default tenant.
"""
from __future__ import annotations

import grpc

from services.animal_identity import converters
from services.animal_identity.handler import IdentityHandler
from services.runtime.interceptors import deadline_of
from xcloud.v1 import animal_identity_pb2 as pb
from xcloud.v1 import animal_identity_pb2_grpc

TENANT_KEY = "x-tenant-id"


class AnimalIdentityServicer(animal_identity_pb2_grpc.AnimalIdentityServicer):
    def __init__(self, handler: IdentityHandler, default_tenant: str):
        self._handler = handler
        self._default_tenant = default_tenant

    def _tenant(self, context: grpc.aio.ServicerContext) -> str:
        for key, value in context.invocation_metadata() or ():
            if key == TENANT_KEY:
                return value
        return self._default_tenant

    async def CreateCollection(self, request, context):
        kind = converters.kind_from_proto(request.kind)
        info = await self._handler.create_collection(self._tenant(context), request.name, kind,
                                                     request.target_far)
        return pb.CreateCollectionResponse(collection=converters.collection_to_proto(info))

    async def GetCollection(self, request, context):
        info = await self._handler.collection(self._tenant(context), request.name)
        return pb.GetCollectionResponse(collection=converters.collection_to_proto(info))

    async def DeleteCollection(self, request, context):
        info = await self._handler.delete_collection(self._tenant(context), request.name)
        return pb.DeleteCollectionResponse(collection=converters.collection_to_proto(info))

    async def ListCollections(self, request, context):
        found = await self._handler.list_collections(self._tenant(context))
        collections = [converters.collection_to_proto(c) for c in found]
        return pb.ListCollectionsResponse(collections=collections)

    async def Enroll(self, request, context):
        # counted before conversion: a message of a million tiny images is refused at once
        self._handler.check_enroll_count(max(len(request.images) + len(request.faces),
                                             len(request.boxes)))
        payload = converters.payload_from_proto(request.images, request.faces, request.boxes)
        result = await self._handler.enroll(self._tenant(context), request.collection,
                                            request.subject, payload, deadline_of(context))
        return converters.enroll_to_proto(result)

    async def Identify(self, request, context):
        result = await self._handler.identify(
            self._tenant(context), request.collection, converters.single_payload(request),
            request.top_k, deadline_of(context))
        return converters.identify_to_proto(result)

    async def Verify(self, request, context):
        result = await self._handler.verify(
            self._tenant(context), request.collection, request.subject,
            converters.single_payload(request), deadline_of(context))
        return converters.verify_to_proto(result)

    async def DeleteSubject(self, request, context):
        deleted, info = await self._handler.delete_subject(self._tenant(context),
                                                           request.collection, request.subject)
        return converters.deleted_subject_to_proto(deleted, info)

    async def ListSubjects(self, request, context):
        page = await self._handler.list_subjects(self._tenant(context), request.collection,
                                                 request.page_size, request.page_token)
        return converters.subjects_to_proto(page)
