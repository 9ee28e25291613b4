"""The launcher's view of one child process: its output pump, READY line and stop sequence."""
from __future__ import annotations

import asyncio
import signal
import sys

from xcloud.stack import READY_RE, Endpoint, ProcessSpec, endpoint_from

LINE_LIMIT = 1 << 20
CLEAN_EXITS = (0, -signal.SIGTERM, -signal.SIGINT)


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
    """One started process, its output pump and the endpoint its READY line announced.

    ``extra`` is the environment it was started with beyond its own settings, kept so that a
    restart gets the same (the gateway's backend table)."""

    def __init__(self, spec: ProcessSpec, process: asyncio.subprocess.Process, out: Output,
                 extra: dict[str, str] | None = None):
        self.spec = spec
        self.process = process
        self.extra = dict(extra or {})
        self.ready: asyncio.Future[Endpoint] = asyncio.get_running_loop().create_future()
        self.started_at = asyncio.get_running_loop().time()
        self.killed = False
        self.ports = (0, 0)  # (grpc, metrics) it was started with, set by the launcher
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
            send(self.process, signal.SIGTERM)
            exited = asyncio.create_task(self.process.wait())
            forced = asyncio.create_task(force.wait())
            await asyncio.wait({exited, forced}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
            forced.cancel()
            if self.process.returncode is None:
                self.killed = True
                send(self.process, signal.SIGKILL)
            await exited
        return not self.killed and self.process.returncode in CLEAN_EXITS


def send(process: asyncio.subprocess.Process, sig: int) -> None:
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        pass


class Backoff:
    """Restart delays: ``base`` doubling per crash up to ``cap``; a process that stayed up for
    ``stable_s`` starts again from ``base`` (a crash loop backs off, a rare crash does not)."""

    def __init__(self, base: float, cap: float, stable_s: float):
        self.base, self.cap, self.stable_s = base, cap, stable_s
        self.crashes = 0

    def next_delay(self, uptime: float) -> float:
        if uptime >= self.stable_s:
            self.crashes = 0
        delay = min(self.cap, self.base * (2 ** self.crashes))
        self.crashes += 1
        return delay
