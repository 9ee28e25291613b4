"""`xcloud eval age`: face-api's age estimate (``faceapi_age_gender``) on UTKFace's held-out part,
through the face_attributes handler at its served framing, on crops made as the gateway makes
them (our MTCNN, ``align_face`` at the shared margin, the part's ``reframe``).

Figures: mean absolute error in years (all faces, and per age band), share within 5 years,
detection rate (faces our detector misses are left out of the errors and counted here).
Beside it, the face trunk's own age head (what face_attributes serves first, when committed)
on the same test part, with its MAE per race x gender group.

``python -m models.evaluation.age --sweep`` also measures gender accuracy (UTKFace and
SCUT-FBP5500 test_40) and age MAE at several margins: the table the age/gender framing of the
part table was chosen from. Age is crop-sensitive: the same face framed tighter or looser moves
the estimate by years, so the margin matters as much as the model.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.attributes import train_age
from models.attributes.classify import utk_sets
from models.attributes.linear import LinearHead
from models.attributes.trunk import AGE, WEIGHTS_DIR
from models.evaluation.datasets import data_root
from models.evaluation.fairness import format_table
from models.evaluation.publish import publish_metrics
from models.faceapi.evaluation import (
    LabelledFace,
    gateway_crops,
    predict_all,
    scut_test40,
    utkface_test,
)
from services.face_attributes.parts import PARTS, Framing, Part, decode_age, decode_gender
from services.runtime.alignment import SHARED_CROP_MARGIN, reframe
from xcloud import names

MODEL = names.FACEAPI_AGE_GENDER
TRUNK = names.FACE_TRUNK
# years on UTKFace's held-out part: a regression guard (measured 5.3; none published)
TARGET_MAE = 6.0
BANDS = ((0, 13), (13, 20), (20, 40), (40, 60), (60, 130))
SWEEP_MARGINS = (-0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4)


def served_part(name: str) -> Part:
    # face-api's part: the table lists the shared trunk first, which this module does not measure
    return next(p for p in PARTS if p.name == name and p.model == MODEL)


def age_figures(faces: Sequence[LabelledFace], years: Sequence[float | None]) -> dict[str, Any]:
    found = [(f.age, y) for f, y in zip(faces, years) if y is not None]
    columns = (np.array(v, np.float64) for v in zip(*found)) if found else (np.zeros(0),) * 2
    truth, estimate = columns
    error = np.abs(estimate - truth)
    figures: dict[str, Any] = {
        "images": len(faces), "detection_rate": len(found) / max(len(faces), 1),
        "mae": float(error.mean()) if found else float("nan"),
        "within_5_years": float((error <= 5).mean()) if found else float("nan"),
    }
    for low, high in BANDS:
        band = (truth >= low) & (truth < high)
        figures[f"mae_{low}_{high - 1}"] = float(error[band].mean()) if band.any() else float("nan")
    return figures


def values_of(results: list, part: str) -> list:
    """The decoded value of ``part`` per face (None where no face was found)."""
    return [None if r is None else next(o.value for o in r.parts if o.part == part)
            for r in results]


async def evaluate(root: Path, limit: int | None = None) -> dict[str, Any]:
    faces = utkface_test(root)[:limit]
    crops = await gateway_crops(faces, "utkface")
    part = served_part("age")
    results = await predict_all(crops, [part], "age")
    years = [None if v is None else v.years for v in values_of(results, "age")]
    return {"model": MODEL, "margin": part.framing.margin, "input_size": part.framing.size,
            **age_figures(faces, years)}


def trunk_age(root: Path, limit: int | None = None) -> dict[str, Any] | None:
    """The trunk's age head on UTKFace's test part, from the training pipeline's features (the
    trunk graph computes the same: tests/models/test_attributes.py); None where no head is
    committed (the trunk then serves face-api's age layer, measured above)."""
    stem = WEIGHTS_DIR / AGE
    if not stem.with_suffix(".npz").is_file():
        return None
    sf, _, test = utk_sets(root, limit=limit, with_train=False)
    return train_age.age_figures(LinearHead.load(stem), sf, test)


async def sweep(root: Path, margins: Sequence[float],
                limit: int | None = None) -> list[dict[str, Any]]:
    """Age MAE and gender accuracy of face-api's net at each margin, on the same crops."""
    size = served_part("age").framing.size
    parts = [Part(f"{kind}@{m}", MODEL, Framing(m, size), kind, decode)
             for m in margins for kind, decode in (("age", decode_age), ("gender", decode_gender))]
    sets = {"utkface": utkface_test(root)[:limit], "scut": scut_test40(root)[:limit]}
    crops = {name: await gateway_crops(faces, name) for name, faces in sets.items()}
    results = {name: await predict_all(crops[name], parts, name) for name in sets}
    rows = []
    for m in margins:
        ages = [None if v is None else v.years for v in values_of(results["utkface"], f"age@{m}")]
        row = {"margin": m, "utkface_age_mae": age_figures(sets["utkface"], ages)["mae"]}
        for name, faces in sets.items():
            said = values_of(results[name], f"gender@{m}")
            right = [v is not None and v.label == f.gender for f, v in zip(faces, said)]
            row[f"{name}_gender_accuracy"] = float(np.mean(right))  # a missed face counts as wrong
        row["utkface_black_share"] = _black_share(crops["utkface"], m, size)
        rows.append(row)
    return rows


def _black_share(crops: Sequence[np.ndarray | None], margin: float, size: int) -> float:
    """Share of the view outside the (zero-padded) UTKFace chip: pixels no photo would have."""
    views = [reframe(c, SHARED_CROP_MARGIN, margin, size) for c in crops if c is not None]
    return float(np.mean([(v.max(axis=2) == 0).mean() for v in views]))


def print_table(figures: dict[str, Any]) -> None:
    print(f"face-api age on {figures['images']} UTKFace test faces (margin {figures['margin']}, "
          f"{figures['input_size']} px); detection rate {figures['detection_rate']:.4f}")
    mark = _mark(figures["mae"] <= TARGET_MAE)
    print(f"{'MAE (years)':<22}{figures['mae']:>8.2f}  target <= {TARGET_MAE}  {mark}")
    print(f"{'within 5 years':<22}{figures['within_5_years']:>8.4f}")
    for low, high in BANDS:
        print(f"{f'MAE ages {low}-{high - 1}':<22}{figures[f'mae_{low}_{high - 1}']:>8.2f}")


def print_trunk(figures: dict[str, Any]) -> None:
    target, group_target = train_age.TARGET_MAE, train_age.TARGET_GROUP_MAE
    worst = figures["by_group"]["worst_value"]
    print(f"\n{TRUNK} age head on {figures['test_faces']} faces "
          f"({figures['faces_missed']} missed): MAE {figures['mae']:.2f} target <= {target} "
          f"{_mark(figures['mae'] <= target)}; worst group {worst:.2f} target <= "
          f"{group_target} {_mark(worst <= group_target)}")
    print(format_table(f"{TRUNK} age MAE", figures["by_group"], " y"))


def _mark(met: bool) -> str:
    return "ok" if met else "MISSED"


def print_sweep(rows: list[dict[str, Any]]) -> None:
    print(f"{'margin':>7}{'UTK age MAE':>13}{'UTK gender':>12}{'SCUT gender':>13}{'UTK black':>11}")
    for r in rows:
        print(f"{r['margin']:>7.2f}{r['utkface_age_mae']:>13.2f}"
              f"{r['utkface_gender_accuracy']:>12.4f}"
              f"{r['scut_gender_accuracy']:>13.4f}{r['utkface_black_share']:>11.3f}")


def main(data: str | None = None, as_json: bool = False, limit: int | None = None,
         write_card: bool = True) -> int:
    root = data_root(data)
    figures = asyncio.run(evaluate(root, limit))
    figures["date"] = datetime.date.today().isoformat()
    trunk = trunk_age(root, limit)
    if write_card and limit is None:
        publish_metrics([MODEL], {"age_utkface": figures})
        if trunk is not None:
            publish_metrics([TRUNK], {"age_utkface": {**trunk, "date": figures["date"]}})
    if as_json:
        print(json.dumps({**figures, "trunk": trunk}))
    else:
        print_table(figures)
        if trunk is not None:
            print_trunk(trunk)
    return 0 if figures["mae"] <= TARGET_MAE else 1


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="face-api age on UTKFace; --sweep for the framing table")
    parser.add_argument("--data", default=None,
                        help="data directory (default: $XCLOUD_DATA or ../shared/data)")
    parser.add_argument("--limit", type=int, default=None, help="use at most N faces per set")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="age and gender at several margins")
    parser.add_argument("--margins", type=float, nargs="+", default=SWEEP_MARGINS)
    args = parser.parse_args(argv)
    if not args.sweep:
        return main(args.data, args.json, args.limit)
    rows = asyncio.run(sweep(data_root(args.data), args.margins, args.limit))
    print(json.dumps(rows)) if args.json else print_sweep(rows)
    return 0


if __name__ == "__main__":
    sys.exit(cli())
