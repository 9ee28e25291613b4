"""`xcloud eval expression --data DIR`: face-api's expression net (``faceapi_expression``) on a
labelled set laid out one folder per label (DIR/happy/*.jpg, DIR/neutral/*.png, ...; folder
names are the model's labels), through the expression service's handler, on crops made as the
gateway makes them (our MTCNN, ``align_face`` at the shared margin, the service's ``reframe``).

Prints the confusion matrix (rows: true label, columns: predicted label, then "no face" for
images where our detector found none), accuracy (a missed face counts as wrong) and per-label
recall. XCloud's shared data holds no labelled expression set (none is redistributable), so
the set is always given by path.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from models.evaluation.publish import publish_metrics
from models.faceapi.evaluation import bounded, gateway_crops
from services.expression.handler import LABELS, ExpressionHandler
from services.expression.settings import ExpressionSettings
from services.runtime.pool import ModelPool
from xcloud import names

MODEL = names.FACEAPI_EXPRESSION
TARGET_ACCURACY = 0.5  # chance is 1/7; no published figure for face-api's net
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
NO_FACE = "no face"


class NotAnExpressionSet(ValueError):
    """The folder is not laid out one sub-folder per expression label."""


def labelled_images(root: Path) -> list[tuple[Path, int]]:
    """(image, label index) for every image under a sub-folder named after a label."""
    folders = [d for d in sorted(Path(root).iterdir()) if d.is_dir()] if Path(root).is_dir() else []
    known = [d for d in folders if d.name.lower() in LABELS]
    if not known:
        raise NotAnExpressionSet(
            f"{root} has no sub-folder named after an expression; pass --data DIR with one "
            f"folder per label ({', '.join(LABELS)}). XCloud's shared data holds no such set.")
    images = [(p, LABELS.index(d.name.lower())) for d in known for p in sorted(d.iterdir())
              if p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise NotAnExpressionSet(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    return images


async def classify_all(crops: list) -> list[int | None]:
    """The predicted label index per crop; None where no face was found."""
    settings = ExpressionSettings(port=0, metrics_port=None)
    pool = ModelPool(settings, [settings.model])
    await pool.start()
    try:
        handler = ExpressionHandler(settings, pool)

        async def classify(crop) -> int | None:
            return None if crop is None else LABELS.index((await handler.classify(crop)).label)

        return await bounded(classify, crops, "expression")
    finally:
        await pool.stop()


async def evaluate(root: Path, limit: int | None = None) -> dict[str, Any]:
    images = labelled_images(root)[:limit]
    predicted = await classify_all(await gateway_crops([p for p, _ in images], "faces"))
    confusion = np.zeros((len(LABELS), len(LABELS) + 1), np.int64)  # last column: no face
    for (_, truth), guess in zip(images, predicted):
        confusion[truth, len(LABELS) if guess is None else guess] += 1
    rows = confusion.sum(axis=1)
    return {
        "data": str(root), "images": len(images),
        "faces": int(len(images) - confusion[:, -1].sum()),
        "labels": list(LABELS), "columns": [*LABELS, NO_FACE], "confusion": confusion.tolist(),
        "accuracy": float(np.trace(confusion[:, :-1]) / max(len(images), 1)),
        "recall": {label: float(confusion[i, i] / rows[i])
                   for i, label in enumerate(LABELS) if rows[i]},
    }


def print_table(figures: dict[str, Any]) -> None:
    print(f"face-api expression on {figures['images']} images of {figures['data']} "
          f"({figures['faces']} faces found); rows: truth, columns: predicted")
    width = max(len(c) for c in figures["columns"]) + 2
    header = "".join(f"{c:>{width}}" for c in figures["columns"])
    print(" " * width + header + f"{'recall':>{width}}")
    for label, row in zip(figures["labels"], figures["confusion"]):
        recall = figures["recall"].get(label)
        cells = "".join(f"{n:>{width}}" for n in row)
        print(f"{label:<{width}}{cells}{'-' if recall is None else f'{recall:.3f}':>{width}}")
    mark = "ok" if figures["accuracy"] >= TARGET_ACCURACY else "MISSED"
    print(f"accuracy {figures['accuracy']:.4f}  target >= {TARGET_ACCURACY}  {mark}")


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    try:
        figures = asyncio.run(evaluate(Path(data or "."), limit))
    except NotAnExpressionSet as exc:
        print(f"xcloud eval expression: {exc}", file=sys.stderr)
        return 2
    figures["date"] = datetime.date.today().isoformat()
    if write_card and limit is None:
        publish_metrics([MODEL], {"expression": figures})
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    return 0 if figures["accuracy"] >= TARGET_ACCURACY else 1
