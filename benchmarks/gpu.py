"""python -m benchmarks.gpu (`make bench-gpu`): per-model throughput at batch 1, 8 and 32 on the
GPU providers against the CPU, one short table.

Providers: CUDA, and TensorRT when this onnxruntime build offers it (its engines are cached
under .cache/bench-trt, so a second run skips the minutes of engine building). Where no GPU
provider is available (the CPU-only onnxruntime wheel, or no device) it prints "no GPU" and
exits 0: the same command is safe on every machine. A GPU run needs onnxruntime-gpu in the
venv in place of onnxruntime.

Each cell is rows per second: ``batch`` x calls / seconds over at least ``MIN_CALLS`` calls
and ``MIN_SECONDS`` seconds, after ``WARMUP_CALLS`` unmeasured calls.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from xcloud import names

REPO_ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = REPO_ROOT / "models" / "repository"
TRT_CACHE = REPO_ROOT / ".cache" / "bench-trt"
BATCHES = (1, 8, 32)
WARMUP_CALLS = 3
MIN_CALLS = 10
MIN_SECONDS = 1.0
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
# The image models of the per-face pipeline and the classifier, at the input each is fed
# (P-Net at one 320 x 240 pyramid level).
MODELS = {
    names.MTCNN_PNET: (3, 240, 320),
    names.MTCNN_RNET: (3, 24, 24),
    names.MTCNN_ONET: (3, 48, 48),
    names.FACE_TRUNK: (3, 224, 224),
    names.FACE_EMBEDDING: (3, 224, 224),
    names.FACEAPI_EXPRESSION: (3, 112, 112),
    names.MOBILENET_V2_IMAGENET: (3, 224, 224),
}


def provider_sets(available: list[str]) -> dict[str, list]:
    """Name -> the provider list of a session; the CPU always, a GPU one where offered."""
    sets: dict[str, list] = {"cpu": [CPU]}
    if CUDA in available:
        sets["cuda"] = [CUDA, CPU]
    if TENSORRT in available:
        TRT_CACHE.mkdir(parents=True, exist_ok=True)
        options = {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(TRT_CACHE)}
        sets["tensorrt"] = [(TENSORRT, options), CUDA, CPU]
    return sets


def rows_per_second(session: ort.InferenceSession, shape: tuple[int, ...], batch: int) -> float:
    rng = np.random.default_rng(0)
    feed = {session.get_inputs()[0].name:
            (rng.random((batch, *shape), np.float32) * 255).astype(np.float32)}
    for _ in range(WARMUP_CALLS):
        session.run(None, feed)
    calls, start = 0, time.perf_counter()
    while calls < MIN_CALLS or time.perf_counter() - start < MIN_SECONDS:
        session.run(None, feed)
        calls += 1
    return batch * calls / (time.perf_counter() - start)


def measure(model: str, providers: list) -> list[float] | str:
    """Rows/s at every batch size, or why the model could not run there."""
    path = REPOSITORY / model / "1" / "model.onnx"
    if not path.is_file():
        return "not built (make models)"
    session = ort.InferenceSession(str(path), providers=providers)
    wanted = providers[0][0] if isinstance(providers[0], tuple) else providers[0]
    if session.get_providers()[0] != wanted:  # onnxruntime fell back silently
        return f"runs on {session.get_providers()[0]}, not {wanted}"
    return [rows_per_second(session, MODELS[model], batch) for batch in BATCHES]


def print_table(results: dict[tuple[str, str], list[float] | str]) -> None:
    print(f"{'model':<24} {'provider':<9} " + " ".join(f"{f'batch {b}':>10}" for b in BATCHES)
          + "   (rows/s)")
    for (model, name), cells in results.items():
        if isinstance(cells, str):
            print(f"{model:<24} {name:<9} {cells}")
        else:
            print(f"{model:<24} {name:<9} " + " ".join(f"{c:10.1f}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    args = parser.parse_args(argv)
    sets = provider_sets(ort.get_available_providers())
    if len(sets) == 1:
        print(f"no GPU: this onnxruntime {ort.__version__} offers "
              f"{', '.join(ort.get_available_providers())}; nothing to compare")
        return 0
    models = [m for m in args.models.split(",") if m in MODELS]
    results = {(model, name): measure(model, providers)
               for model in models for name, providers in sets.items()}
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
