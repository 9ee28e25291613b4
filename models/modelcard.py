"""Model cards (``model.json``) beside each ``model.onnx`` in the model repository.

Besides the descriptive fields (inputs, outputs, preprocessing, source, licence, training data,
metrics) the card records the sha256 of the ONNX file it describes under ``artifact``, so a build
can tell a finished model from a stale or half-written one. A card is written through its type
(services/runtime/card.py), the one the services read it with: a key it does not declare
fails the build, not the service that would have read it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.packages import PinnedPackage, sha256_of
from services.runtime.card import CARD_FILE, ONNX_FILE, ModelCard


def source_of(package: PinnedPackage, members: list[str]) -> dict[str, Any]:
    """The card's ``source`` block: which pinned registry release and files the weights came
    from."""
    return {
        "package": package.name,
        "registry": package.registry,
        "version": package.version,
        "sha256": package.sha256,
        "files": {member: package.files[member] for member in members},
    }


def write_card(folder: Path, card: dict[str, Any], producer: str = "") -> Path:
    """Validate ``card`` and write it as ``model.json`` for the ``model.onnx`` already in
    ``folder``; raises ValueError naming the bad key."""
    artifact = {"file": ONNX_FILE, "sha256": sha256_of(folder / ONNX_FILE), "producer": producer}
    return ModelCard.model_validate({**card, "artifact": artifact}).write(folder)


def read_card(folder: Path) -> ModelCard | None:
    """The card in ``folder``; None when there is none, or it is not a valid card (a build
    then makes the model again)."""
    if not (folder / CARD_FILE).is_file():
        return None
    try:
        return ModelCard.read(folder)
    except (ValueError, OSError):
        return None


def is_current(folder: Path) -> bool:
    """True when the folder holds a model.onnx whose sha256 is the one its card records."""
    card = read_card(folder)
    onnx_path = folder / ONNX_FILE
    if card is None or card.artifact is None or not onnx_path.is_file():
        return False
    return card.artifact.sha256 == sha256_of(onnx_path)


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
