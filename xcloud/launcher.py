"""python -m xcloud.launcher: the whole stack on one machine (what `make run` runs).

Starts every service of ``xcloud.stack.SERVICES`` (or those named by ``--services``), waits
for each one's ``READY`` line, then starts the gateway configured with the addresses the
services reported. Every child's output is echoed with its name as prefix.

Supervision: a child that dies after start is restarted on the same ports with exponential
back-off (``--restart-backoff`` doubling up to ``--max-backoff``; reset once it has stayed up
``--stable-after`` seconds), and the launcher logs the exit, the delay and the return. The
other processes keep serving meanwhile: the gateway answers the dead backend's tasks with an
UNAVAILABLE status. SIGINT/SIGTERM stop the gateway first, then the services, each with
SIGTERM (they drain) and SIGKILL after ``--grace`` seconds; a second Ctrl-C kills at once.
Exit code: 0 when everything started and stopped cleanly, 1 otherwise.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xcloud.children import LINE_LIMIT, Backoff, Child, Interrupted, Output, StartupError
from xcloud.stack import (
    GATEWAY,
    SERVICES,
    Endpoint,
    ProcessSpec,
    backends_json,
    child_env,
    free_port,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GATEWAY = f"127.0.0.1:{GATEWAY.port}"


# Services that run one model per face crop. On a small CPU host their nets answer more rows
# per second one row at a time than batched (measured on 2 cores: the trunk 23 rows/s at
# batch 1, 17 at 16; the expression net 820 and 453; the whole per-face pipeline 1.25 x
# req/s at c=16 with max_batch_size 1): there the budget turns their batches off.
PER_CROP_SERVICES = ("face_attributes", "expression")
SMALL_HOST_CPUS = 4


def thread_budget(services: Sequence[ProcessSpec], cpus: int | None = None,
                  environ: Mapping[str, str] = os.environ) -> dict[str, dict[str, str]]:
    """Per service, the settings that share the host's cores out: ``{name: {SETTING: value}}``.

    Every onnxruntime session's default pool has a thread per core, spinning while it waits:
    six services on two cores then run a dozen busy pools against each other. Each service
    gets its share of the cores as ``INTRA_OP_THREADS`` instead (at least one thread), and on
    a host of at most SMALL_HOST_CPUS cores the per-crop services get ``MAX_BATCH_SIZE`` 1. A
    setting already in the environment (``<prefix><SETTING>``) is kept.
    """
    cpus = cpus or os.cpu_count() or 1
    share = str(max(1, cpus // max(1, len(services))))
    budget = {}
    for spec in services:
        wanted = {"INTRA_OP_THREADS": share}
        if spec.name in PER_CROP_SERVICES and cpus <= SMALL_HOST_CPUS:
            wanted["MAX_BATCH_SIZE"] = "1"
        budget[spec.name] = {k: v for k, v in wanted.items()
                             if f"{spec.env_prefix}{k}" not in environ}
    return budget


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    gateway_port: int = GATEWAY.port
    free_ports: bool = False
    ready_timeout: float = 300.0
    grace: float = 15.0
    restart_backoff: float = 0.5   # first restart delay (s); doubles per crash in a row
    max_backoff: float = 30.0
    stable_after: float = 60.0     # uptime (s) after which a crash no longer counts as "in a row"


class Launcher:
    def __init__(self, options: Options, services: tuple[ProcessSpec, ...] = SERVICES,
                 gateway: ProcessSpec = GATEWAY, stream=None):
        self.options = options
        self.services = services
        self.gateway = gateway
        self.out = Output(["launcher", gateway.name, *(s.name for s in services)], stream)
        self.children: list[Child] = []
        self.restarts: dict[str, int] = {}
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self._threads = thread_budget(services)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            failed = await self._run_stack()
            clean = await self._stop_all()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return 1 if failed or not clean else 0

    def request_stop(self) -> None:
        """What SIGTERM does: stop supervising and stop every process in order."""
        self._stop.set()

    async def _run_stack(self) -> bool:
        """Start, announce, supervise until stopped; True when the stack could not start."""
        try:
            self._banner(await self._start_stack())
        except StartupError as exc:
            self.out.say(f"error: {exc}; stopping everything")
            return True
        except Interrupted:
            self.out.say("interrupted while starting")
            return False
        await self._supervise()
        return False

    def _on_signal(self, sig: int) -> None:
        if self._stop.is_set():
            self.out.say("second signal: killing every process now")
            self._force.set()
        else:
            self.out.say(f"{signal.Signals(sig).name}: stopping (again to kill at once)")
            self._stop.set()

    def _port(self, default: int) -> int:
        return 0 if self.options.free_ports else default

    def _ports(self, spec: ProcessSpec) -> tuple[int, int]:
        port, metrics_port = self._port(spec.port), self._port(spec.metrics_port)
        if spec is self.gateway:
            port = self._port(self.options.gateway_port)
            if self.options.free_ports:
                # ListBackends reports the gateway's metrics URL from its settings, so port 0
                # would be reported as ":0": give it a concrete free port instead.
                metrics_port = free_port(self.options.host)
        return port, metrics_port

    async def _spawn(self, spec: ProcessSpec, extra: dict[str, str] | None = None,
                     ports: tuple[int, int] | None = None) -> Child:
        port, metrics_port = ports or self._ports(spec)
        budget = {f"{spec.env_prefix}{k}": v for k, v in self._threads.get(spec.name, {}).items()}
        env = child_env(spec, self.options.host, port, metrics_port, {**budget, **(extra or {})})
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", spec.module, cwd=REPO_ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                # start_new_session: Ctrl-C reaches only us: we stop in order
                limit=LINE_LIMIT, start_new_session=True,
            )
        except OSError as exc:
            raise StartupError(f"cannot start {spec.name}: {exc}") from exc
        self.out.say(f"started {spec.name} (pid {process.pid})")
        child = Child(spec, process, self.out, extra)
        child.ports = (port, metrics_port)
        self.children.append(child)
        return child

    async def _start_stack(self) -> list[Endpoint]:
        """Services in parallel, then the gateway pointed at the addresses they reported."""
        services = [await self._spawn(spec) for spec in self.services]
        backends = await self._all_ready(services)
        gateway = await self._spawn(
            self.gateway, {f"{self.gateway.env_prefix}BACKENDS": backends_json(backends)}
        )
        return await self._all_ready([gateway]) + backends

    async def _all_ready(self, children: list[Child]) -> list[Endpoint]:
        timeout = self.options.ready_timeout
        tasks = [asyncio.create_task(c.until_ready(self._stop, timeout)) for c in children]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    def _banner(self, endpoints: list[Endpoint]) -> None:
        gateway = endpoints[0]
        say = self.out.say
        say(f"XCloud is up: gateway at {gateway.address}")
        width = max(len(e.name) for e in endpoints)
        for e in endpoints:
            say(f"  {e.name:<{width}}  grpc {e.address:<21}  metrics {e.metrics_url or '-'}")
        flag = "" if gateway.address == DEFAULT_GATEWAY else f"--gateway {gateway.address} "
        say(f"try: xcloud {flag}analyze photo.jpg   (also: health, models)")
        say("Ctrl-C stops every process")

    async def _supervise(self) -> None:
        """Keep every started process alive until a stop is requested."""
        await asyncio.gather(*(self._keep_alive(child) for child in list(self.children)))

    async def _keep_alive(self, child: Child) -> None:
        """Restart ``child`` whenever it dies, on the ports its READY line announced."""
        o = self.options
        backoff = Backoff(o.restart_backoff, o.max_backoff, o.stable_after)
        endpoint = child.ready.result()
        ports = (int(endpoint.address.rsplit(":", 1)[1]), endpoint.metrics_port or child.ports[1])
        while await self._until_exit_or_stop(child.process.wait()):
            loop = asyncio.get_running_loop()
            delay = backoff.next_delay(loop.time() - child.started_at)
            count = self.restarts[child.name] = self.restarts.get(child.name, 0) + 1
            self.out.say(f"error: {child.name} exited unexpectedly with code "
                         f"{child.process.returncode}; restart {count} in {delay:.1f}s")
            self.children.remove(child)  # its crash is reported: stopping need not see it
            if not await self._until_exit_or_stop(asyncio.sleep(delay)):
                return
            try:
                child = await self._spawn(child.spec, child.extra, ports)
            except StartupError as exc:
                self.out.say(f"error: {exc}")
                continue  # the dead child's exit is already known: the loop backs off again
            child.ready.add_done_callback(
                lambda _f, name=child.name, n=count: self.out.say(f"{name} is back (restart {n})"))

    async def _until_exit_or_stop(self, awaitable) -> bool:
        """Wait for ``awaitable`` or a stop request; True when it finished first."""
        waited = asyncio.ensure_future(awaitable)
        stop = asyncio.create_task(self._stop.wait())
        await asyncio.wait({waited, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if self._stop.is_set():
            waited.cancel()
            return False
        return True

    async def _stop_all(self) -> bool:
        """Gateway first (it drains while its backends still answer), then the services."""
        grace = self.options.grace
        ordered = [c for c in self.children if c.spec is self.gateway]
        services = [c for c in self.children if c.spec is not self.gateway]
        results = [await c.stop(grace, self._force) for c in ordered]
        results += await asyncio.gather(*(c.stop(grace, self._force) for c in services))
        if self.children:
            await asyncio.wait([c.reader for c in self.children], timeout=5)
        for child, clean in zip(ordered + services, results):
            how = "did not stop in time: killed" if child.killed else \
                f"exited with code {child.process.returncode}"
            self.out.say(f"{child.name} {how}" + ("" if clean else " (not clean)"))
        return all(results)


def parse_args(argv: list[str] | None = None) -> tuple[Options, str]:
    parser = argparse.ArgumentParser(prog="python -m xcloud.launcher", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface every process binds to")
    parser.add_argument("--gateway-port", type=int, default=GATEWAY.port,
                        help=f"gateway gRPC port (default {GATEWAY.port})")
    parser.add_argument("--free-ports", action="store_true",
                        help="let every process pick a free gRPC and metrics port")
    parser.add_argument("--ready-timeout", type=float, default=Options.ready_timeout,
                        help="seconds each process gets to load its models and become ready")
    parser.add_argument("--grace", type=float, default=Options.grace,
                        help="seconds a process gets to drain after SIGTERM before SIGKILL")
    parser.add_argument("--restart-backoff", type=float, default=Options.restart_backoff,
                        help="seconds before the first restart of a crashed process (doubles)")
    parser.add_argument("--max-backoff", type=float, default=Options.max_backoff,
                        help="longest wait between restarts of a process that keeps crashing")
    parser.add_argument("--services", default="",
                        help="comma-separated subset of services to start (default: all)")
    a = parser.parse_args(argv)
    return Options(a.host, a.gateway_port, a.free_ports, a.ready_timeout, a.grace,
                   a.restart_backoff, a.max_backoff), a.services


def chosen_services(names: str) -> tuple[ProcessSpec, ...]:
    """The services named in ``names`` ("" = all); an unknown name is an error."""
    if not names:
        return SERVICES
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {s.name: s for s in SERVICES}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"unknown service(s) {unknown}; known: {sorted(known)}")
    return tuple(known[n] for n in wanted)


def main(argv: list[str] | None = None) -> int:
    options, names = parse_args(argv)
    return asyncio.run(Launcher(options, chosen_services(names)).run())


if __name__ == "__main__":
    sys.exit(main())
