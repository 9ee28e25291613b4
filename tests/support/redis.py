"""A private redis-server on a free port, for the tests and the benchmarks (no persistence)."""
from __future__ import annotations

import socket
import subprocess
import time


class RedisProcess:
    """A private redis-server on its own port: no persistence, killed at teardown."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(500):  # readiness poll, not a timing assertion
            if self._answers_ping():
                return
            time.sleep(0.01)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
