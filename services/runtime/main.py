"""The ``python -m <process>`` entry of every process (the six services and the gateway).

Settings come from the environment only (nothing parses argv); logging is set up before the
app is made, so what its constructor logs is formatted like the rest.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from services.runtime.server import App, configure_logging, serve_until_signal
from services.runtime.settings import ServerSettings

S = TypeVar("S", bound=ServerSettings)


def serve(app_type: Callable[[S], App], settings_type: type[S]) -> None:
    """Read ``settings_type`` from the environment and run ``app_type(settings)`` until
    SIGTERM or SIGINT, then drain it (services/runtime/server.py). ``app_type`` is an app
    class: its ``name`` labels the log lines."""
    settings = settings_type()
    configure_logging(settings.log_level, app_type.name)
    asyncio.run(serve_until_signal(app_type(settings), settings))
