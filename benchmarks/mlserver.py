"""Seldon MLServer as a peer: started from its own virtual environment, serving our ONNX models
through benchmarks/mlserver_runtime/onnx_model.py with its adaptive batching on.

MLServer 1.7.1 pins protobuf < 7 and XCloud needs 7, so it cannot share .venv; it lives in
``.venv-mlserver`` (``make mlserver-venv``; set ``XCLOUD_MLSERVER`` to another ``mlserver``
executable). Where it is absent the comparison is reported as skipped, with the reason.

Settings are MLServer's defaults except where a benchmark must set them: free loopback ports
and the model's adaptive batching (``max_batch_size`` 16 and ``max_batch_time`` 2 ms, the
same as XCloud's services). The session keeps onnxruntime's default threads (what a user of
MLServer gets; one pool over every core) unless ``ServedModel.intra_op_threads`` says.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from benchmarks.harness import Request
from benchmarks.kserve_client import infer_call, wait_until_ready
from xcloud.stack import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV = REPO_ROOT / ".venv-mlserver"
RUNTIME = Path(__file__).resolve().parent / "mlserver_runtime" / "onnx_model.py"
HOST = "127.0.0.1"
READY_TIMEOUT_S = 180.0
MAX_BATCH_SIZE = 16
MAX_BATCH_TIME_S = 0.002


@dataclass(frozen=True)
class ServedModel:
    name: str        # the model's name in MLServer (ModelInfer model_name)
    onnx_path: Path
    intra_op_threads: int = 0
    max_batch_size: int = MAX_BATCH_SIZE  # adaptive batching's; 1 turns it off


def onnx_path(model: str) -> Path:
    """Our built model's file (make models)."""
    return REPO_ROOT / "models" / "repository" / model / "1" / "model.onnx"


def executable() -> Path | None:
    """The mlserver command to run, or None when it is not installed."""
    configured = os.environ.get("XCLOUD_MLSERVER")
    candidate = Path(configured) if configured else VENV / "bin" / "mlserver"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def write_repository(root: Path, models: Sequence[ServedModel], grpc_port: int) -> None:
    """settings.json and one folder per model (model-settings.json + the runtime module)."""
    settings = {"host": HOST, "grpc_port": grpc_port, "http_port": free_port(HOST),
                "metrics_port": free_port(HOST), "debug": False,
                "metrics_dir": str(root / ".metrics")}
    (root / "settings.json").write_text(json.dumps(settings))
    for model in models:
        folder = root / model.name
        folder.mkdir()
        shutil.copy(RUNTIME, folder / RUNTIME.name)
        (folder / "model-settings.json").write_text(json.dumps({
            "name": model.name, "implementation": f"{RUNTIME.stem}.OnnxModel",
            "max_batch_size": model.max_batch_size, "max_batch_time": MAX_BATCH_TIME_S,
            "parameters": {"uri": str(model.onnx_path.resolve()),
                           "extra": {"intra_op_threads": model.intra_op_threads}},
        }))


class MLServer:
    """One MLServer process serving ``models``; ``address`` once started."""

    def __init__(self, models: Sequence[ServedModel], log: object):
        self.models = list(models)
        self.address = ""
        self._log = log  # a text stream (Testbed's Tail): MLServer's output, shown on failure
        self._root = Path(tempfile.mkdtemp(prefix="xcloud-mlserver-"))
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> str:
        command = executable()
        if command is None:
            raise FileNotFoundError(f"MLServer is not installed ({VENV}/bin/mlserver missing)")
        port = free_port(HOST)
        write_repository(self._root, self.models, port)
        self._process = await asyncio.create_subprocess_exec(
            str(command), "start", str(self._root), cwd=self._root,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        self._reader = asyncio.create_task(self._echo())
        self.address = f"{HOST}:{port}"
        for model in self.models:
            await wait_until_ready(self.address, model.name, READY_TIMEOUT_S)
        return self.address

    async def _echo(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for line in self._process.stdout:
            self._log.write("mlserver | " + line.decode(errors="replace"))

    async def stop(self) -> None:
        """SIGTERM to its process group (MLServer runs inference in worker processes)."""
        if self._process is not None and self._process.returncode is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), 15)
            except asyncio.TimeoutError:
                os.killpg(self._process.pid, signal.SIGKILL)
                await self._process.wait()
        if self._reader is not None:
            self._reader.cancel()
        shutil.rmtree(self._root, ignore_errors=True)


def infer(channel: grpc.aio.Channel, model: str, views: Iterator, timeout: float) -> Request:
    """ModelInfer of the next view; the runtime reads the first input whatever its name."""
    return infer_call(channel, model, "input", lambda: next(views), timeout)
