"""The model repository: ``<root>/<model>/<version>/{model.onnx, model.json}``.

``model.json`` is the model card (inputs, outputs, labels, preprocessing, source of the
weights, licence, training data and its terms, metrics reached), typed and validated by
services/runtime/card.py when it is read. Versions are integers; the highest one is served
unless a service pins another.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from services.runtime.card import ONNX_FILE, ModelCard
from services.runtime.errors import ModelNotInstalled


class ModelRepository:
    def __init__(self, root: Path):
        self.root = Path(root)

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [d.name for d in folder.iterdir() if (d / ONNX_FILE).is_file() and d.name.isdigit()]
        return sorted(found, key=int)

    def get(self, name: str, version: str | None = None) -> ModelCard:
        """The model card of ``name`` (latest version by default); raises ModelNotInstalled,
        or ValueError when its card does not validate."""
        versions = self.versions(name)
        if version is None and versions:
            version = versions[-1]
        if version not in versions:
            wanted = f"{name} version {version}" if version else name
            raise ModelNotInstalled(
                f"model {wanted} is not installed in {self.root}; build it with `make models`"
            )
        return ModelCard.read(self.root / name / version, name, version)

    def is_installed(self, name: str) -> bool:
        return bool(self.versions(name))

    def write_metrics(self, name: str, metrics: dict[str, Any], version: str | None = None) -> Path:
        """Merge evaluation figures into the model card (what `xcloud eval` does)."""
        card = self.get(name, version)
        fields = {**card.model_dump(exclude_unset=True), "metrics": {**card.metrics, **metrics}}
        return ModelCard.model_validate(fields).write(card.directory)
