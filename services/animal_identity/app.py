"""The animal-identity service as the runtime runs it: models, gallery database, servicer."""
from __future__ import annotations

import asyncio

import grpc

from services.animal_identity.embedded import EmbeddedPostgres
from services.animal_identity.embedding import Embedder
from services.animal_identity.gallery import Gallery, IndexParams
from services.animal_identity.handler import IdentityHandler
from services.animal_identity.servicer import AnimalIdentityServicer
from services.animal_identity.settings import AnimalIdentitySettings
from services.runtime.app import ModelServiceApp
from xcloud.v1 import animal_identity_pb2_grpc


class AnimalIdentityApp(ModelServiceApp):
    name = "animal_identity"
    service_name = "xcloud.v1.AnimalIdentity"

    def __init__(self, settings: AnimalIdentitySettings):
        models = [settings.face_model, settings.generic_model, settings.animal_model]
        super().__init__(settings, models)
        index = IndexParams(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search)
        self.gallery = Gallery(index, settings.pool_size, settings.database_wait_s)
        self.handler = IdentityHandler(settings, Embedder(settings, self.pool), self.gallery)
        self.database: EmbeddedPostgres | None = None

    def add_servicer(self, server: grpc.aio.Server) -> None:
        animal_identity_pb2_grpc.add_AnimalIdentityServicer_to_server(
            AnimalIdentityServicer(self.handler, self.settings.default_tenant), server
        )

    async def start(self) -> None:
        url = self.settings.database_url
        if url is None:
            settings = {"shared_buffers": self.settings.embedded_shared_buffers}
            self.database = await asyncio.to_thread(EmbeddedPostgres, self.settings.data_dir,
                                                    settings)
            url = self.database.url
        await self.gallery.open(url)
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.gallery.close()
        if self.database is not None:
            await asyncio.to_thread(self.database.stop)
