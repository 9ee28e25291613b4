"""Model cards (``model.json``) beside each ``model.onnx`` in the model repository.

Besides the descriptive fields (inputs, outputs, preprocessing, source, licence, training data,
metrics) the card records the sha256 of the ONNX file it describes under ``artifact``, so a build
can tell a finished model from a stale or half-written one.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.packages import PinnedPackage, sha256_of

CARD_FILE = "model.json"
ONNX_FILE = "model.onnx"


def source_of(package: PinnedPackage, members: list[str]) -> dict[str, Any]:
    """The card's ``source`` block: which pinned registry release and files the weights came from."""
    return {
        "package": package.name,
        "registry": package.registry,
        "version": package.version,
        "sha256": package.sha256,
        "files": {member: package.files[member] for member in members},
    }


def write_card(folder: Path, card: dict[str, Any], producer: str = "") -> Path:
    """Write ``model.json`` for the ``model.onnx`` already in ``folder``."""
    onnx_path = folder / ONNX_FILE
    card = dict(card)
    card["artifact"] = {"file": ONNX_FILE, "sha256": sha256_of(onnx_path), "producer": producer}
    path = folder / CARD_FILE
    path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return path


def read_card(folder: Path) -> dict[str, Any] | None:
    path = folder / CARD_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def is_current(folder: Path) -> bool:
    """True when the folder holds a model.onnx whose sha256 is the one its card records."""
    card = read_card(folder)
    onnx_path = folder / ONNX_FILE
    if card is None or not onnx_path.is_file():
        return False
    recorded = card.get("artifact", {}).get("sha256")
    return recorded is not None and recorded == sha256_of(onnx_path)


# Figures measured by `xcloud eval` are also recorded here, in the source tree, so that a model
# rebuilt by `make models` on another machine carries the metrics its card claims.
METRICS_DIR = Path(__file__).resolve().parent / "metrics"


def recorded_metrics(name: str) -> dict[str, Any]:
    path = METRICS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def record_metrics(name: str, metrics: dict[str, Any]) -> Path:
    """Merge evaluation figures into models/metrics/<name>.json (committed)."""
    METRICS_DIR.mkdir(exist_ok=True)
    path = METRICS_DIR / f"{name}.json"
    merged = {**recorded_metrics(name), **metrics}
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return path
