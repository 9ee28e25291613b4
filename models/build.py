"""Build the model repository: ``python -m models.build [--force] [--repository DIR] [NAME ...]``.

Every served model registers one entry in ``BUILDERS``; a model whose folder already holds a
``model.onnx`` matching the sha256 in its ``model.json`` is skipped unless ``--force``. Each
model is built in a hidden temporary folder and moved into place only once its export has been
verified, so a failed build never leaves a half-written model that a service would load.
"""
from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from models import modelcard
from models.animal import export as animal_export
from models.attributes import export as attributes_export
from models.attributes import trunk
from models.blazeface import export as blazeface_export
from models.faceapi import export as faceapi_export
from models.fine_grained import export as fine_grained_export
from models.identity import export as identity_export
from models.mobilenet import export as mobilenet_export
from models.mtcnn import export as mtcnn_export
from models.text_quality import export as text_quality_export
from xcloud import names

REPOSITORY = Path(__file__).resolve().parent / "repository"


class ModelBuilder(NamedTuple):
    name: str
    version: str
    build: Callable[[Path], dict[str, Any]]  # writes model.onnx into the folder, returns the card
    # committed files the model is made from (trained weights): a change to any rebuilds it
    inputs: tuple[Path, ...] = ()


MODELS_DIR = Path(__file__).resolve().parent


def weights(folder: str, *stems: str) -> tuple[Path, ...]:
    """The committed ``.npz`` + ``.json`` of each head ``stem`` under
    ``models/<folder>/weights``."""
    return tuple(MODELS_DIR / folder / "weights" / f"{stem}{suffix}"
                 for stem in stems for suffix in (".npz", ".json"))


TRUNK_HEADS = (names.BEAUTY, names.GENDER, names.RACE, names.AGE)


BUILDERS: list[ModelBuilder] = [
    ModelBuilder(spec.model, "1", functools.partial(mtcnn_export.build, kind))
    for kind, spec in mtcnn_export.SPECS.items()
] + [
    ModelBuilder(name, "1", functools.partial(faceapi_export.build, name))
    for name in faceapi_export.SPECS
] + [ModelBuilder(names.BLAZEFACE, "1", blazeface_export.build)] + [
    ModelBuilder(names.MOBILENET_V2_IMAGENET, "1", mobilenet_export.build_imagenet),
    ModelBuilder(names.MOBILENET_V2_FEATURES, "1", mobilenet_export.build_features),
    ModelBuilder(fine_grained_export.FLOWERS17, "1", fine_grained_export.build_flowers17,
                 weights("fine_grained", fine_grained_export.FLOWERS17)),
    ModelBuilder(text_quality_export.MTBDNN, "1", text_quality_export.build,
                 weights("text_quality", text_quality_export.MTBDNN)),
    ModelBuilder(animal_export.NAME, "1", animal_export.build,
                 weights("animal", animal_export.NAME)),
    *(ModelBuilder(name, "1", functools.partial(attributes_export.build, name),
                   weights("attributes", name)) for name in attributes_export.SPECS),
    ModelBuilder(trunk.TRUNK, "1", trunk.build, weights("attributes", *TRUNK_HEADS)),
    ModelBuilder(identity_export.EMBEDDING, identity_export.VERSION, identity_export.build,
                 (*weights("attributes", identity_export.EMBEDDING),
                  MODELS_DIR / "attributes" / "weights" / identity_export.COHORT_FILE)),
]


def build_one(builder: ModelBuilder, repository: Path = REPOSITORY, force: bool = False) -> str:
    """Build one model if needed; returns "built" or "present"."""
    target = repository / builder.name / builder.version
    if not force and modelcard.is_current(target) and _inputs_unchanged(builder, target):
        return "present"
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{builder.version}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the served folder should not be
    try:
        card = builder.build(staging)
        card["metrics"] = {**card.get("metrics", {}), **modelcard.recorded_metrics(builder.name)}
        card["build_inputs"] = _fingerprint(builder)
        modelcard.write_card(staging, card, producer="models.build")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return "built"


def _fingerprint(builder: ModelBuilder) -> dict[str, str]:
    """sha256 of each input file that exists (the age head is optional: see trunk.age_stem)."""
    return {p.name: modelcard.sha256_of(p) for p in builder.inputs if p.is_file()}


def _inputs_unchanged(builder: ModelBuilder, target: Path) -> bool:
    card = modelcard.read_card(target)
    return card is not None and card.build_inputs == _fingerprint(builder)


def build_all(
    names: Iterable[str] = (), repository: Path = REPOSITORY, force: bool = False,
    log: Callable[[str], None] = print,
) -> None:
    wanted = set(names)
    unknown = wanted - {b.name for b in BUILDERS}
    if unknown:
        raise SystemExit(f"unknown model(s): {', '.join(sorted(unknown))}")
    for builder in BUILDERS:
        if wanted and builder.name not in wanted:
            continue
        start = time.perf_counter()
        outcome = build_one(builder, repository, force)
        where = repository / builder.name / builder.version
        log(f"{builder.name:<24} {outcome:<8} {time.perf_counter() - start:6.1f}s  {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="models to build (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild models already present")
    parser.add_argument("--repository", type=Path, default=REPOSITORY, help="output root")
    args = parser.parse_args(argv)
    build_all(args.names, args.repository, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
