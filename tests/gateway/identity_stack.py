"""The gateway over the real face-detection and identity services (a real PostgreSQL behind
the gallery), started on loopback inside the caller's AsyncExitStack: the stack of the
gallery and identify tests."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from gateway.app import GatewayApp
from gateway.settings import BackendSettings, GatewaySettings
from services.animal_identity.app import AnimalIdentityApp
from services.face_detection.app import FaceDetectionApp
from services.face_detection.settings import FaceDetectionSettings
from tests.services.animal_identity.conftest import identity_settings
from tests.support.servers import running


@dataclass(frozen=True)
class IdentityStack:
    gateway_address: str
    identity_address: str
    backends: dict[str, BackendSettings]


async def start_identity_stack(stack: contextlib.AsyncExitStack, database: Any,
                               **gateway_settings: Any) -> IdentityStack:
    """Detection, identity (on ``database``) and a gateway with ``gateway_settings``."""
    detection = FaceDetectionSettings(port=0, metrics_port=None)
    found = await stack.enter_async_context(running(FaceDetectionApp(detection), detection))
    identity = identity_settings(database)
    gallery = await stack.enter_async_context(running(AnimalIdentityApp(identity), identity))
    backends = {"face_detection": BackendSettings(address=found.address),
                "animal_identity": BackendSettings(address=gallery.address)}
    settings = GatewaySettings(port=0, metrics_port=None, backends=backends, **gateway_settings)
    live = await stack.enter_async_context(running(GatewayApp(settings), settings))
    return IdentityStack(live.address, gallery.address, backends)
