"""What the benchmarks run against: the photos they send and the servers they call.

Servers are started on first use, shared by every benchmark of a run and stopped at its end.

Every server runs as its own subprocess, as ``make run`` starts it (the same ``ProcessSpec``,
environment and READY line), not inside the benchmark process: on a 2-core machine a server
sharing the load generator's event loop and GIL would be slowed by the very client measuring
it, and batching gains would be confused with client-side contention.
"""
from __future__ import annotations

import asyncio
import collections
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace

from benchmarks import mlserver
from benchmarks.inputs import Photo
from benchmarks.progress import WindowBar
from tests.support.redis import RedisProcess
from xcloud.launcher import LINE_LIMIT, REPO_ROOT, Child, Output, StartupError, thread_budget
from xcloud.stack import (
    GATEWAY,
    SERVICES,
    Endpoint,
    ProcessSpec,
    backends_json,
    child_env,
    free_port,
)

HOST = "127.0.0.1"
READY_TIMEOUT_S = 300.0  # loading and warming up every batch size of every model
STOP_GRACE_S = 10.0
# The naive baseline (benchmarks/naive_server.py) starts like a service, with its READY line.
NAIVE = ProcessSpec("naive", "benchmarks.naive_server", "XCLOUD_NAIVE_", 0, 0)
SPECS = {spec.name: spec for spec in (*SERVICES, GATEWAY, NAIVE)}
# Settings every benchmark server gets: nothing to drain when the run is over.
COMMON_SETTINGS = {"drain_seconds": 0.0}


class Tail:
    """A write-only text stream keeping the last lines (the servers' output, shown on failure)."""

    def __init__(self, lines: int = 60):
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)

    def write(self, text: str) -> None:
        self.lines.extend(text.splitlines())

    def flush(self) -> None:
        """Output flushes after every line; nothing is buffered here."""


def setting_value(value: object) -> str:
    """A settings value as pydantic-settings reads it from the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class Testbed:
    """Photos, and servers keyed by (process, settings): each is started once per run.

    ``photos`` is the small mix of the counted benchmarks; ``corpus`` the distinct images the
    timed comparisons cycle through (benchmarks/peers.py); ``progress`` their progress bar.
    Services get the launcher's budget (``xcloud.launcher.thread_budget``: intra-op threads,
    and on small hosts the per-crop services' batch size), as in ``make run``; a setting a
    benchmark passes wins, and ``budget=False`` starts a service on its settings' defaults.
    """

    def __init__(self, photos: Sequence[Photo], corpus: Sequence[Photo] = (),
                 progress: WindowBar | None = None) -> None:
        if not photos:
            raise ValueError("the benchmarks need at least one photo")
        self.photos = list(photos)
        self.corpus = list(corpus) or self.photos
        self.progress = progress or WindowBar(enabled=False)
        self.output = Tail()
        self._budget = thread_budget(SERVICES)
        self._mlservers: dict[mlserver.ServedModel, asyncio.Future[str]] = {}
        self._running_mlservers: list[mlserver.MLServer] = []
        self._started: dict[tuple[str, str], asyncio.Future[Endpoint]] = {}
        self._children: list[Child] = []
        self._redis: RedisProcess | None = None
        self._never = asyncio.Event()  # the benchmarks never interrupt a start

    async def service(self, name: str, budget: bool = True, **settings: object) -> Endpoint:
        """A service of ``xcloud.stack.SERVICES`` with these settings overrides, on the
        launcher's budget unless ``budget`` is False (then on the settings' own defaults)."""
        key = (name, budget, json.dumps(settings, sort_keys=True))
        if key not in self._started:
            self._started[key] = asyncio.ensure_future(self._start(SPECS[name], settings, budget))
        return await self._started[key]

    async def gateway(self, backends: tuple[str, ...] = ("face_detection",),
                      backend_settings: dict[str, object] | None = None, budget: bool = True,
                      **settings: object) -> Endpoint:
        """A gateway in front of these services, each run with ``backend_settings`` (default:
        none) and ``budget`` (see ``service``)."""
        backend_settings = backend_settings or {}
        endpoints = await asyncio.gather(*(self.service(name, budget, **backend_settings)
                                           for name in backends))
        routed = [replace(e, name=name) for name, e in zip(backends, endpoints)]
        return await self.service(GATEWAY.name, backends=backends_json(routed), **settings)

    async def naive(self) -> Endpoint:
        """The naive PyTorch server (benchmarks/naive_server.py)."""
        return await self.service(NAIVE.name)

    async def mlserver(self, model: str, intra_op_threads: int = 0,
                       max_batch_size: int = mlserver.MAX_BATCH_SIZE) -> str:
        """The address of an MLServer serving our ``model``, one process per configuration
        (intra_op_threads 0: onnxruntime's default threads, what an MLServer user gets)."""
        served = mlserver.ServedModel(model, mlserver.onnx_path(model), intra_op_threads,
                                      max_batch_size)
        if served not in self._mlservers:
            self._mlservers[served] = asyncio.ensure_future(self._start_mlserver(served))
        return await self._mlservers[served]

    def thread_budget(self, service: str) -> dict[str, int]:
        """The launcher's budget for ``service`` in this run, e.g. {"intra_op_threads": 1}."""
        return {k.lower(): int(v) for k, v in self._budget.get(service, {}).items()}

    async def _start_mlserver(self, served: mlserver.ServedModel) -> str:
        server = mlserver.MLServer([served], self.output)
        self._running_mlservers.append(server)
        return await server.start()

    def redis_url(self) -> str | None:
        """A private redis-server (no persistence), or None when it is not installed."""
        if shutil.which("redis-server") is None:
            return None
        if self._redis is None:
            self._redis = RedisProcess(free_port(HOST))
            self._redis.start()
        return self._redis.url

    async def _start(self, spec: ProcessSpec, settings: dict[str, object],
                     budgeted: bool = True) -> Endpoint:
        # Named by its scalar overrides; the gateway's backend table would drown the name.
        label = spec.name + "".join(f" {k}={v}" for k, v in settings.items() if k != "backends")
        label += "" if budgeted else " (no budget)"
        budget = {k.lower(): v for k, v in self._budget.get(spec.name, {}).items()} \
            if budgeted else {}
        extra = {f"{spec.env_prefix}{k.upper()}": setting_value(v)
                 for k, v in {**COMMON_SETTINGS, **budget, **settings}.items()}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", spec.module, cwd=REPO_ROOT,
            env=child_env(spec, HOST, 0, 0, extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            limit=LINE_LIMIT, start_new_session=True,
        )
        child = Child(replace(spec, name=label), process, Output([label], self.output))
        self._children.append(child)
        try:
            return await child.until_ready(self._never, READY_TIMEOUT_S)
        except StartupError as exc:
            tail = "\n".join(self.output.lines)
            raise StartupError(f"{exc}; its last output:\n{tail}") from None

    async def close(self) -> None:
        force = asyncio.Event()
        await asyncio.gather(*(child.stop(STOP_GRACE_S, force) for child in self._children),
                             *(server.stop() for server in self._running_mlservers))
        if self._redis is not None:
            self._redis.kill()
