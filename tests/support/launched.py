"""A launcher started as a real subprocess (what `make run` runs), read line by line."""
from __future__ import annotations

import contextlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BANNER = re.compile(r"^launcher\s+\| XCloud is up: gateway at (\S+)")
STARTED = re.compile(r"^launcher\s+\| started (\S+) \(pid (\d+)\)")
START_LIMIT_S = 240  # only bounds a hang; nothing here measures time


@dataclass
class LiveStack:
    process: subprocess.Popen
    lines: queue.Queue
    output: list[str] = field(default_factory=list)
    gateway: str = ""
    pids: dict[str, int] = field(default_factory=dict)

    def next_line(self, timeout: float) -> str | None:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is not None:
            self.output.append(line)
            if match := STARTED.match(line):
                self.pids[match[1]] = int(match[2])
        return line

    def wait_for(self, pattern: str, timeout: float = START_LIMIT_S) -> re.Match[str]:
        """Read until a line matches ``pattern``; fail with the log when it never comes."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            line = self.next_line(left)
            if line is None:
                break
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}:\n{self.log()}")

    def log(self) -> str:
        return "\n".join(self.output[-80:])


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


@contextlib.contextmanager
def launched(*args: str) -> Iterator[LiveStack]:
    """``python -m xcloud.launcher --free-ports ARGS``, up to its banner; SIGTERM at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "xcloud.launcher", "--free-ports", *args],
        cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace",
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    live = LiveStack(process, lines)
    try:
        live.gateway = live.wait_for(BANNER.pattern)[1]
        yield live
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
