"""python -m xcloud.launcher: the whole stack on one machine (what `make run` runs).

Starts every service of ``xcloud.stack.SERVICES``, waits for each one's ``READY`` line, then
starts the gateway configured with the addresses the services reported. Every child's output
is echoed with its name as prefix. SIGINT/SIGTERM stop the gateway first, then the services,
each with SIGTERM (they drain) and SIGKILL after ``--grace`` seconds; a second Ctrl-C kills at
once. Exit code: 0 when everything started and stopped cleanly, 1 otherwise.
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from xcloud.stack import (
    GATEWAY,
    READY_RE,
    SERVICES,
    Endpoint,
    ProcessSpec,
    backends_json,
    child_env,
    endpoint_from,
    free_port,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
LINE_LIMIT = 1 << 20
CLEAN_EXITS = (0, -signal.SIGTERM, -signal.SIGINT)
DEFAULT_GATEWAY = f"127.0.0.1:{GATEWAY.port}"


@dataclass(frozen=True)
class Options:
    host: str = "127.0.0.1"
    gateway_port: int = GATEWAY.port
    free_ports: bool = False
    ready_timeout: float = 300.0
    grace: float = 15.0


class StartupError(Exception):
    """A process exited or stayed silent before it was ready."""


class Interrupted(Exception):
    """Stop was requested while the stack was starting."""


class Output:
    """Writes ``name | line`` with every name padded to the same width."""

    def __init__(self, names: list[str], stream=None):
        self.width = max(len(n) for n in names)
        self.stream = stream or sys.stdout

    def line(self, name: str, text: str) -> None:
        try:
            self.stream.write(f"{name:<{self.width}} | {text}\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # whoever read our output went away; the children must still be stopped

    def say(self, text: str) -> None:
        self.line("launcher", text)


class Child:
    """One started process, its output pump and the endpoint its READY line announced."""

    def __init__(self, spec: ProcessSpec, process: asyncio.subprocess.Process, out: Output):
        self.spec = spec
        self.process = process
        self.ready: asyncio.Future[Endpoint] = asyncio.get_running_loop().create_future()
        self.killed = False
        self.reader = asyncio.create_task(self._pump(out))

    @property
    def name(self) -> str:
        return self.spec.name

    async def _pump(self, out: Output) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # over LINE_LIMIT: the stream has dropped it, carry on
                out.line(self.name, "[output line too long, dropped]")
                continue
            if not raw:
                return
            text = raw.decode(errors="replace").rstrip("\r\n")
            out.line(self.name, text)
            match = READY_RE.match(text)
            if match and not self.ready.done():
                self.ready.set_result(endpoint_from(self.name, match))

    async def until_ready(self, stop: asyncio.Event, timeout: float) -> Endpoint:
        exited = asyncio.create_task(self.process.wait())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({self.ready, exited, stopping}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            stopping.cancel()
        if self.ready.done():
            return self.ready.result()
        if stop.is_set():
            raise Interrupted()
        if self.process.returncode is not None:
            raise StartupError(f"{self.name} exited with code {self.process.returncode} "
                               "before it was ready (its output is above)")
        raise StartupError(f"{self.name} did not become ready within {timeout:.0f}s")

    async def stop(self, grace: float, force: asyncio.Event) -> bool:
        """SIGTERM, then SIGKILL after ``grace`` (or at once on ``force``); True if clean."""
        if self.process.returncode is None:
            _send(self.process, signal.SIGTERM)
            exited = asyncio.create_task(self.process.wait())
            forced = asyncio.create_task(force.wait())
            await asyncio.wait({exited, forced}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            forced.cancel()
            if self.process.returncode is None:
                self.killed = True
                _send(self.process, signal.SIGKILL)
            await exited
        return not self.killed and self.process.returncode in CLEAN_EXITS


def _send(process: asyncio.subprocess.Process, sig: int) -> None:
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        pass


class Launcher:
    def __init__(self, options: Options, services: tuple[ProcessSpec, ...] = SERVICES,
                 gateway: ProcessSpec = GATEWAY, stream=None):
        self.options = options
        self.services = services
        self.gateway = gateway
        self.out = Output(["launcher", gateway.name, *(s.name for s in services)], stream)
        self.children: list[Child] = []
        self._stop = asyncio.Event()
        self._force = asyncio.Event()

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

    async def _run_stack(self) -> bool:
        """Start, announce, supervise; True when something failed."""
        try:
            self._banner(await self._start_stack())
            return await self._supervise()
        except StartupError as exc:
            self.out.say(f"error: {exc}; stopping everything")
            return True
        except Interrupted:
            self.out.say("interrupted while starting")
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

    async def _spawn(self, spec: ProcessSpec, extra: dict[str, str] | None = None) -> Child:
        port, metrics_port = spec.port, self._port(spec.metrics_port)
        if spec is self.gateway:
            port = self.options.gateway_port
            if self.options.free_ports:
                # ListBackends reports the gateway's metrics URL from its settings, so port 0
                # would be reported as ":0": give it a concrete free port instead.
                metrics_port = free_port(self.options.host)
        env = child_env(spec, self.options.host, self._port(port), metrics_port, extra)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", spec.module, cwd=REPO_ROOT, env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                limit=LINE_LIMIT, start_new_session=True,  # Ctrl-C reaches only us: we stop in order
            )
        except OSError as exc:
            raise StartupError(f"cannot start {spec.name}: {exc}") from exc
        self.out.say(f"started {spec.name} (pid {process.pid})")
        child = Child(spec, process, self.out)
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

    async def _supervise(self) -> bool:
        """Wait for a stop request or a child's death; True if a child died."""
        exits = {asyncio.create_task(c.process.wait()): c for c in self.children}
        stop = asyncio.create_task(self._stop.wait())
        done, pending = await asyncio.wait({stop, *exits}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        dead = [exits[t] for t in done if t in exits]
        for child in dead:
            self.out.say(f"error: {child.name} exited unexpectedly with code "
                         f"{child.process.returncode}; stopping everything")
        return bool(dead)

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


def parse_args(argv: list[str] | None = None) -> Options:
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
    a = parser.parse_args(argv)
    return Options(a.host, a.gateway_port, a.free_ports, a.ready_timeout, a.grace)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(Launcher(parse_args(argv)).run())


if __name__ == "__main__":
    sys.exit(main())
