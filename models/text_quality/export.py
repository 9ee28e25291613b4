"""The committed MTB-DNN as one ONNX graph (``zhihu_mtbdnn``): raw fields in, review score out.

The graph holds the log1p + min-max scaling, the network, the branch mean and the clip to
0..5, so the service sends exactly the 23 validated fields (services/text_quality/fields.py
order) and onnxruntime returns the score. The export is checked against torch on rows drawn
across the training range of every field.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from models.modelcard import ONNX_FILE
from models.packages import sha256_of
from models.text_quality import network
from services.text_quality.fields import FIELD_NAMES
from xcloud import names

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # committed: <model>.npz + <model>.json
MTBDNN, MLP = names.ZHIHU_MTBDNN, names.ZHIHU_MLP
OPSET = 17
TOLERANCE = 1e-5
CHECK_ROWS = 257  # an odd batch, past every warm-up bucket


def load_trained(
    name: str, weights: Path = WEIGHTS_DIR
) -> tuple[network.MultiBranchNet, dict[str, Any]]:
    """The committed one-member network ``name`` and its training record."""
    record = json.loads((weights / f"{name}.json").read_text())
    shape = record["architecture"]
    net = network.load(weights / f"{name}.npz", record["served_seed"], shape["branches"],
                       shape["trunk"])
    return net, record


def export(net: network.MultiBranchNet, path: Path) -> float:
    """Write the ONNX graph of ``net``; returns its largest difference from torch."""
    scorer = network.Scorer(net).eval()
    example = torch.zeros(1, len(FIELD_NAMES))
    torch.onnx.export(
        scorer, (example,), str(path), input_names=["features"], output_names=["review_score"],
        dynamic_axes={"features": {0: "batch"}, "review_score": {0: "batch"}},
        opset_version=OPSET, dynamo=False,
    )
    return verify(scorer, path)


def verify(scorer: network.Scorer, path: Path) -> float:
    """Largest |onnxruntime - torch| over rows spanning every field's training range."""
    scaler = scorer.net.scaler
    span = np.random.default_rng(0).uniform(0.0, 1.0, (CHECK_ROWS, len(FIELD_NAMES)))
    scaled = scaler.low.numpy() + span / scaler.scale.numpy()
    rows = np.where(scaler.log_mask.numpy(), np.expm1(scaled), scaled).astype(np.float32)
    with torch.no_grad():
        expected = scorer(torch.from_numpy(rows)).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(["review_score"], {"features": rows})
    worst = float(np.abs(got - expected).max())
    if got.shape != expected.shape or worst > TOLERANCE:
        raise RuntimeError(f"{MTBDNN}: onnxruntime differs from torch by {worst:.3g}")
    return worst


def build(folder: Path) -> dict[str, Any]:
    """Repository builder of ``zhihu_mtbdnn`` from the committed weights."""
    net, record = load_trained(MTBDNN)
    worst = export(net, folder / ONNX_FILE)
    return card_for(record, worst)


def card_for(record: dict[str, Any], worst: float) -> dict[str, Any]:
    weights = WEIGHTS_DIR / f"{MTBDNN}.npz"
    return {
        "name": MTBDNN,
        "version": "1",
        "task": "content_quality",
        "summary": "MTB-DNN (the seed's MTNet): predicted mean review score (0..5) of a Zhihu "
                   "Live from 23 ZhihuLiveDB fields; shared 23-16-8-8 trunk, 3 averaged branches.",
        "inputs": [{"name": "features", "shape": ["batch", len(FIELD_NAMES)], "dtype": "float32",
                    "fields": list(FIELD_NAMES)}],
        "outputs": [{"name": "review_score", "shape": ["batch"], "dtype": "float32",
                     "range": [0.0, 5.0]}],
        "preprocessing": {
            "in_graph": "log1p of counts, durations and prices, then min-max with TRAIN constants",
            "caller": "raw field values, validated (services/text_quality/fields.py)",
        },
        "source": {"trained_by": "python -m models.text_quality.train",
                   "weights": f"models/text_quality/weights/{weights.name}",
                   "sha256": sha256_of(weights), "seed": record["served_seed"]},
        "license": "non-commercial research only (trained on ZhihuLiveDB; see data_terms)",
        "training_data": record["training_data"],
        "data_terms": record["data_terms"],
        "training": {key: record[key] for key in ("architecture", "recipe", "torch", "date")},
        "export": {"opset": OPSET, "torch": torch.__version__, "max_abs_diff_vs_torch": worst},
        "metrics": {"training": {f"test_{k}_mean": v for k, v in record["test_mean"].items()}
                    | {f"test_{k}_std": v for k, v in record["test_std"].items()}},
    }
