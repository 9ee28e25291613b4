"""The face-api reference runtime (face-api's own JS on pure-JS TensorFlow.js) for parity tests.

``npm ci`` installs the exact versions of ``js/package-lock.json`` into ``js/node_modules``
(git-ignored) once; a stamp of the lock file's sha256 tells later sessions it is current.
Without node and npm the parity tests skip, saying so.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.services.face_attributes.support import faceapi_models  # noqa: F401 (fixture)

JS_DIR = Path(__file__).resolve().parent / "js"
STAMP = JS_DIR / "node_modules" / ".xcloud-lock-sha256"
NPM_TIMEOUT_S = 600
NODE_TIMEOUT_S = 300
# [(net, mode, float32 NHWC images), ...] -> each job's outputs as face-api computes them
Job = tuple[str, str, np.ndarray]
Reference = Callable[[list[Job]], list[dict[str, np.ndarray]]]


def _install() -> None:
    lock = hashlib.sha256((JS_DIR / "package-lock.json").read_bytes()).hexdigest()
    if STAMP.is_file() and STAMP.read_text() == lock:
        return
    done = subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=JS_DIR,
        capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"`npm ci` in {JS_DIR} failed (is the npm registry reachable?): "
                    f"{done.stderr.strip()[-500:]}")
    STAMP.write_text(lock)


@pytest.fixture(scope="session")
def faceapi_js(tmp_path_factory) -> Reference:
    """Runs face-api 1.7.15 on TensorFlow.js 4.22.0 in node on the given images."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed: the parity reference is face-api's own JS "
                    "on TensorFlow.js (install Node.js >= 18 to run these tests)")
    _install()
    folder = tmp_path_factory.mktemp("faceapi_js")

    def reference(jobs: list[Job]) -> list[dict[str, np.ndarray]]:
        request = []
        for index, (net, mode, images) in enumerate(jobs):
            path = folder / f"job{index}.f32"
            np.ascontiguousarray(images, dtype="<f4").tofile(path)
            request.append({"net": net, "mode": mode, "input": str(path),
                            "shape": list(images.shape)})
        done = subprocess.run(
            ["node", str(JS_DIR / "faceapi_reference.js")], input=json.dumps({"jobs": request}),
            capture_output=True, text=True, timeout=NODE_TIMEOUT_S, check=False,
        )
        assert done.returncode == 0, f"face-api reference failed: {done.stderr[-2000:]}"
        return [{name: np.asarray(values, np.float32) for name, values in result.items()}
                for result in json.loads(done.stdout)["results"]]

    return reference
