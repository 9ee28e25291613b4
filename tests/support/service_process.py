"""One XCloud service as a real process (``python -m services.NAME``), up to its READY line."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180.0  # only bounds a hang; nothing here measures time


class ServiceProcess:
    """``python -m services.<name>`` on free ports with ``settings`` (names without prefix)."""

    def __init__(self, name: str, **settings: object):
        self.name = name
        self.settings = {key: str(value) for key, value in settings.items()}
        prefix = f"XCLOUD_{name.upper()}_"
        env = {**os.environ, f"{prefix}PORT": "0", f"{prefix}METRICS_PORT": "0",
               **{f"{prefix}{key.upper()}": value for key, value in self.settings.items()}}
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], cwd=REPO_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.address, self.metrics_port = self._wait_ready()

    def _wait_ready(self) -> tuple[str, int]:
        """The addresses from the READY line the runtime prints once the service serves."""
        deadline = time.monotonic() + START_TIMEOUT_S
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith(f"READY {self.name}"):
                fields = dict(part.split("=", 1) for part in line.split()[2:])
                return fields["grpc"], int(fields["metrics"])
        self.process.kill()
        raise RuntimeError(f"{self.name} did not become ready:\n" + "".join(seen[-30:]))

    @property
    def pid(self) -> int:
        return self.process.pid

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.wait()

    def wait(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        if not self.process.stdout.closed:
            self.process.stdout.close()
        return code
