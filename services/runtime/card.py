"""The model card (``model.json``) as a type: what the build writes and the services read.

The build validates a card before writing it (models/modelcard.write_card) and the repository
when it loads one (services/runtime/repository.py), so a misspelt key (``"servng"``) or a value
of the wrong type stops the build or the service at start-up instead of being served as a
silent default. The blocks the services act on are typed to the field (``serving``,
``preprocessing.framing``, ``labels``, ``identity``); the descriptive ones (``metrics``,
``export``, ``training``, ...) are open mappings that people and ``xcloud models`` read.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

CARD_FILE = "model.json"
ONNX_FILE = "model.onnx"


class Block(BaseModel):
    """A part of a card: every key is declared, so a key nobody reads is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Tensor(Block):
    name: str
    dtype: str
    shape: list[int | str]  # "batch" and other names are dynamic axes
    normalised: str | None = None  # e.g. "L2"
    range: list[float] | None = None
    fields: list[str] | None = None  # the columns of a tabular input


class Framing(Block):
    """The crop a face model was trained on (services.runtime.alignment.reframe's terms)."""

    margin: float
    size: int


class Preprocessing(Block):
    framing: Framing | None = None  # face heads: the services cut this crop for the model
    # Descriptive: how the input is made, for people (the services' code does it).
    alignment: str | None = None
    caller: str | None = None
    color: str | None = None
    dtype: str | None = None
    formula: str | None = None
    in_graph: str | None = None
    input_size: list[int] | str | None = None
    layout: str | None = None
    mean: float | None = None
    normalisation: str | None = None
    range: str | None = None
    resize: str | None = None
    scale: float | None = None
    test_time_augmentation: str | None = None
    trained_on: str | None = None


class Serving(Block):
    max_batch_size: int | None = None  # caps the settings' batch where batches grow costly


class ScoreCurve(Block):
    """p(same subject | distance) = 1 / (1 + exp(-(a + b * distance)))."""

    a: float
    b: float


class FusionCard(Block):
    """The re-ranking fusion of an animal model (models.animal.fusion fits it)."""

    intercept: float
    distance: float
    inliers: float
    accept: float = 0.5
    distance_threshold: float | None = None
    target_false_accept: float | None = None
    candidate_rows: int | None = None
    queries: int | None = None
    fitted_on: str | None = None
    held_out: dict[str, int] = {}


class Identity(Block):
    """How an embedding's distances answer "same subject?": its calibration."""

    threshold: float | None = None  # same subject below this distance
    target_far: float | None = None  # the false-accept rate ``threshold`` was calibrated for
    thresholds_by_far: dict[str, float] = {}
    score: ScoreCurve | None = None
    score_meaning: str | None = None
    metric: str | None = None
    local_features: str | None = None
    fusion: FusionCard | None = None


class Source(Block):
    """Where the weights came from: a pinned registry release, or our own training."""

    package: str | None = None
    registry: str | None = None
    version: str | None = None
    sha256: str | None = None
    files: dict[str, str] = {}
    weights: str | None = None
    trained_by: str | None = None
    seed: int | None = None


class Artifact(Block):
    file: str
    sha256: str
    producer: str = ""


class ModelCard(Block):
    """One model's card. ``name`` and ``version`` are its repository folder's."""

    name: str = ""
    version: str = ""
    task: str = ""
    summary: str = ""
    license: str = ""
    caveats: str = ""
    data_terms: str = ""
    training_data: str | dict[str, str] = ""
    inputs: list[Tensor] = []
    outputs: list[Tensor] = []
    labels: dict[str, list[str]] = {}  # output name -> class names, in output order
    preprocessing: Preprocessing = Preprocessing()
    serving: Serving = Serving()
    identity: Identity | None = None
    same_person_distance: float | None = None  # face-api's descriptor states it so
    source: Source | None = None
    additional_sources: list[Source] = []
    labels_source: Source | None = None
    artifact: Artifact | None = None
    build_inputs: dict[str, str] = {}  # input file -> sha256 (models.build rebuilds on change)
    # Descriptive blocks, free-form: figures and records for people.
    metrics: dict[str, Any] = {}
    export: dict[str, Any] = {}
    decoding: dict[str, Any] = {}
    head: dict[str, Any] = {}
    heads: dict[str, Any] = {}
    training: dict[str, Any] = {}

    _directory: Path = PrivateAttr(default_factory=Path)

    @classmethod
    def read(cls, folder: Path, name: str = "", version: str = "") -> ModelCard:
        """The card in ``folder`` (an empty one when there is none), its name and version the
        folder's where given; a card that does not validate raises ValueError naming it."""
        path = folder / CARD_FILE
        fields = json.loads(path.read_text()) if path.is_file() else {}
        fields.update({k: v for k, v in (("name", name), ("version", version)) if v})
        try:
            card = cls.model_validate(fields)
        except ValueError as error:
            raise ValueError(f"{path} is not a valid model card: {error}") from None
        card._directory = folder
        return card

    def write(self, folder: Path) -> Path:
        """Write the card as ``folder/model.json`` (the keys it was given, sorted)."""
        path = folder / CARD_FILE
        fields = self.model_dump(exclude_unset=True)  # python mode: a NaN figure stays NaN
        path.write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n")
        return path

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def onnx_path(self) -> Path:
        return self._directory / ONNX_FILE

    def labels_of(self, output: str, default: Sequence[str] = ()) -> list[str]:
        """The class names of one output (cards key them by output name)."""
        return list(self.labels.get(output, default))

    @property
    def provenance(self) -> str:
        """Where the weights came from, in one line ("npm @vladmandic/face-api 1.7.15")."""
        if self.source is None:
            return ""
        parts = (self.source.registry, self.source.package, self.source.version)
        return " ".join(part for part in parts if part)

    def headline_metrics(self) -> dict[str, float]:
        """Numeric metrics of the card, flattened one level ("eval.detection_rate")."""
        flat: dict[str, float] = {}
        for key, value in self.metrics.items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": float(v) for k, v in value.items() if _is_number(v)})
            elif _is_number(value):
                flat[key] = float(value)
        return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
