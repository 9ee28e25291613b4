"""onnxruntime sessions, with the provider list taken from settings.

If a GPU provider was asked for and onnxruntime silently fell back to the CPU, we refuse to
start: a GPU pod quietly serving at CPU speed is worse than a pod that does not come up.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort

from services.runtime.repository import ModelCard

log = logging.getLogger(__name__)
CPU = "CPUExecutionProvider"


class ProviderUnavailable(RuntimeError):
    """A requested accelerator is not usable; raised at start, never per request."""


def create_session(path: str, providers: Sequence[str],
                   intra_op_threads: int = 0) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if intra_op_threads:
        options.intra_op_num_threads = intra_op_threads
    _check_available(providers)
    session = ort.InferenceSession(path, sess_options=options, providers=list(providers))
    _check_no_silent_fallback(providers, session.get_providers(), path)
    return session


def _check_available(providers: Sequence[str]) -> None:
    available = set(ort.get_available_providers())
    missing = [p for p in providers if p not in available]
    if missing:
        raise ProviderUnavailable(
            f"onnxruntime providers {missing} requested but this onnxruntime build offers only "
            f"{sorted(available)}; install onnxruntime-gpu or change the providers setting"
        )


def _check_no_silent_fallback(requested: Sequence[str], active: Sequence[str], path: str) -> None:
    wanted_accelerators = [p for p in requested if p != CPU]
    if wanted_accelerators and not any(p in active for p in wanted_accelerators):
        raise ProviderUnavailable(
            f"{path}: asked for {wanted_accelerators} but the session runs on {list(active)}"
        )


class LoadedModel:
    """One ONNX model ready to run: its card, session and input/output names."""

    def __init__(self, card: ModelCard, providers: Sequence[str], intra_op_threads: int = 0):
        self.card = card
        self.session = create_session(str(card.onnx_path), providers, intra_op_threads)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        log.info("loaded %s v%s on %s", card.name, card.version, self.session.get_providers()[0])

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> str:
        return self.card.version

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: batch})
