"""The original runtime for parity tests: pure-JS @tensorflow/tfjs 4.22.0 run by node.

``npm ci`` installs the pinned package-lock into ``node_modules/`` here (git-ignored) on first
use; tests skip, saying why, where node or npm is missing or the install cannot reach npm.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "run_tfjs.mjs"
INSTALLED = HERE / "node_modules" / ".package-lock.json"  # npm writes it after an install


def ensure_runtime() -> None:
    """Install TF.js unless the installed tree matches package-lock.json; skip when impossible."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not on PATH: the TF.js parity tests need node + npm")
    lock = HERE / "package-lock.json"
    if INSTALLED.is_file() and INSTALLED.stat().st_mtime >= lock.stat().st_mtime:
        return
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=False,
                            capture_output=True, text=True, timeout=600)
    if result.returncode:
        pytest.skip(f"`npm ci` in {HERE} failed (no access to the npm registry?): "
                    f"{result.stderr[-400:]}")


def run_tfjs(model_json: Path, rows: np.ndarray, outputs: Sequence[str],
             workdir: Path) -> dict[str, np.ndarray]:
    """The named outputs of the TF.js model for each row of ``rows`` (run one row at a time)."""
    rows = np.ascontiguousarray(rows, np.float32)
    rows.tofile(workdir / "input.bin")
    command = ["node", str(SCRIPT), str(model_json), str(workdir / "input.bin"),
               ",".join(map(str, rows.shape)), ",".join(outputs), str(workdir)]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"TF.js failed: {result.stderr[-2000:]}"
    manifest = json.loads((workdir / "outputs.json").read_text())
    assert manifest["tfjs"] == "4.22.0"
    return {
        entry["name"]: np.fromfile(workdir / f"{k}.bin", np.float32).reshape(entry["shape"])
        for k, entry in enumerate(manifest["outputs"])
    }
