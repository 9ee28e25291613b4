"""`xcloud eval fine-grained`: flowers17 test accuracy (overall and per class) of
``flowers17_mobilenet_v2``, and an ImageNet sanity check of ``mobilenet_v2_imagenet`` on
scikit-image's photos, measured through the service's own handler (same code path as a
Classify call: decode, centre crop, batched onnxruntime, top-k).

Figures:
- accuracy / top5_accuracy on flowers17's labels.csv ``test`` split (272 images, 16 a class);
- per-class accuracy (written to the card, the worst class printed);
- ImageNet: probability of the top class for chelsea (a cat) and coffee (an espresso).
"""
from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path

import numpy as np
from skimage import data as photos

from models.evaluation.datasets import data_root
from models.evaluation.publish import publish_metrics
from models.fine_grained import data as datasets
from models.fine_grained.export import FLOWERS17
from services.fine_grained.handler import ClassifyParams, FineGrainedHandler
from services.fine_grained.settings import FineGrainedSettings
from services.runtime.imaging import decode_image
from services.runtime.pool import ModelPool
from xcloud import names

IMAGENET = names.MOBILENET_V2_IMAGENET
CONCURRENCY = 8  # images in flight, so the batcher forms batches
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967
TARGETS = {"accuracy": 0.95, "chelsea_is_cat": 1.0, "coffee_is_espresso": 1.0}


async def classify_all(handler: FineGrainedHandler, paths: list[Path], model: str) -> np.ndarray:
    """Top-5 class indices per image, (n, 5)."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(path: Path) -> list[int]:
        async with gate:
            rgb = await asyncio.to_thread(decode_image, path.read_bytes())
            result = await handler.classify_pixels(rgb, ClassifyParams(model=model, top_k=5))
            return [label.index for label in result.labels]

    return np.array(await asyncio.gather(*(one(p) for p in paths)))


async def evaluate(root: Path, limit: int | None = None) -> dict:
    settings = FineGrainedSettings(port=0, metrics_port=None, models=[IMAGENET, FLOWERS17])
    pool = ModelPool(settings, settings.models)
    await pool.start()
    try:
        handler = FineGrainedHandler(settings, pool)
        images = datasets.load(root / "flowers17")
        test = images.test[:limit]
        top5 = await classify_all(handler, [p for p, _ in test], FLOWERS17)
        sanity = {name: await handler.classify_pixels(rgb, ClassifyParams(model=IMAGENET))
                  for name, rgb in (("chelsea", photos.chelsea()), ("coffee", photos.coffee()))}
    finally:
        await pool.stop()
    truth = np.array([c for _, c in test])
    hit = top5[:, 0] == truth
    per_class = {images.classes[c]: float(hit[truth == c].mean()) for c in np.unique(truth)}
    return {
        "images": len(test),
        "accuracy": float(hit.mean()),
        "top5_accuracy": float((top5 == truth[:, None]).any(axis=1).mean()),
        "per_class_accuracy": per_class,
        "chelsea_top1": sanity["chelsea"].labels[0].name,
        "chelsea_is_cat": float(sanity["chelsea"].labels[0].index in CAT_CLASSES),
        "chelsea_cat_probability": sum(
            label.probability for label in sanity["chelsea"].labels if label.index in CAT_CLASSES),
        "coffee_top1": sanity["coffee"].labels[0].name,
        "coffee_is_espresso": float(sanity["coffee"].labels[0].index == ESPRESSO),
        "coffee_espresso_probability": sanity["coffee"].labels[0].probability,
    }


def publish(figures: dict) -> None:
    """Figures into both model cards and their committed records (models/metrics/)."""
    keys = ("images", "accuracy", "top5_accuracy", "per_class_accuracy", "date")
    publish_metrics([FLOWERS17], {"flowers17": {k: figures[k] for k in keys}})
    sanity = {k: v for k, v in figures.items()
              if k.startswith(("chelsea", "coffee")) or k == "date"}
    publish_metrics([IMAGENET], {"imagenet_sanity": sanity})


def print_table(figures: dict) -> None:
    worst = min(figures["per_class_accuracy"].items(), key=lambda item: item[1])
    print(f"Fine-grained: {figures['images']} flowers17 test images, 2 ImageNet photos")
    print(f"{'metric':<28}{'value':>10}  target")
    for name, bound in TARGETS.items():
        mark = "ok" if figures[name] >= bound else "MISSED"
        print(f"{name:<28}{figures[name]:>10.4f}  >= {bound}  {mark}")
    print(f"{'top5_accuracy':<28}{figures['top5_accuracy']:>10.4f}")
    print(f"{'worst class':<28}{worst[1]:>10.4f}  ({worst[0]})")
    print(f"chelsea -> {figures['chelsea_top1']} ({figures['chelsea_cat_probability']:.3f} cat); "
          f"coffee -> {figures['coffee_top1']} ({figures['coffee_espresso_probability']:.3f})")


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    figures = asyncio.run(evaluate(data_root(data), limit))
    figures["date"] = datetime.date.today().isoformat()
    if write_card and limit is None:
        publish(figures)
    if as_json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    return 0 if all(figures[name] >= bound for name, bound in TARGETS.items()) else 1
