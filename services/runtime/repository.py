"""The model repository: ``<root>/<model>/<version>/{model.onnx, model.json}``.

``model.json`` is the model card (inputs, outputs, labels, preprocessing, source of the
weights, licence, training data and its terms, metrics reached). Versions are integers;
the highest one is served unless a service pins another.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.runtime.errors import ModelNotInstalled


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    directory: Path
    card: dict[str, Any]

    @property
    def onnx_path(self) -> Path:
        return self.directory / "model.onnx"

    @property
    def summary(self) -> str:
        return str(self.card.get("summary", ""))

    @property
    def license(self) -> str:
        return str(self.card.get("license", ""))

    @property
    def source(self) -> str:
        source = self.card.get("source", {})
        if isinstance(source, dict):
            return " ".join(str(source[k]) for k in ("registry", "package", "version") if k in source)
        return str(source)

    def headline_metrics(self) -> dict[str, float]:
        """Numeric metrics of the card, flattened one level ("eval.detection_rate")."""
        flat: dict[str, float] = {}
        for key, value in self.card.get("metrics", {}).items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": float(v) for k, v in value.items() if _is_number(v)})
            elif _is_number(value):
                flat[key] = float(value)
        return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class ModelRepository:
    def __init__(self, root: Path):
        self.root = Path(root)

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        found = [d.name for d in folder.iterdir() if (d / "model.onnx").is_file() and d.name.isdigit()]
        return sorted(found, key=int)

    def get(self, name: str, version: str | None = None) -> ModelCard:
        """The model card of ``name`` (latest version by default); raises ModelNotInstalled."""
        versions = self.versions(name)
        if version is None and versions:
            version = versions[-1]
        if version not in versions:
            wanted = f"{name} version {version}" if version else name
            raise ModelNotInstalled(
                f"model {wanted} is not installed in {self.root}; build it with `make models`"
            )
        directory = self.root / name / version
        card_path = directory / "model.json"
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        return ModelCard(name=name, version=version, directory=directory, card=card)

    def is_installed(self, name: str) -> bool:
        return bool(self.versions(name))

    def write_metrics(self, name: str, metrics: dict[str, Any], version: str | None = None) -> Path:
        """Merge evaluation figures into the model card (what `xcloud eval` does)."""
        model = self.get(name, version)
        card = dict(model.card)
        card["metrics"] = {**card.get("metrics", {}), **metrics}
        path = model.directory / "model.json"
        path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
        return path
