"""The committed generated code is exactly what `make proto` produces from protos/."""
from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_is_up_to_date(tmp_path):
    # the typed API (xcloud/v1) and the Open Inference Protocol (xcloud/oip)
    protos = sorted((REPO_ROOT / "protos" / "xcloud").glob("*/*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO_ROOT / 'protos'}",
         f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
         *map(str, protos)],
        check=True,
    )
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py*"))
    assert fresh, "protoc produced nothing"
    stale = [str(p) for p in fresh if not filecmp.cmp(tmp_path / p, REPO_ROOT / p, shallow=False)]
    assert not stale, f"run `make proto` and commit: {stale} differ from protos/"


def test_every_service_proto_uses_the_versioned_package():
    for proto in (REPO_ROOT / "protos" / "xcloud" / "v1").glob("*.proto"):
        assert "package xcloud.v1;" in proto.read_text(), proto.name
