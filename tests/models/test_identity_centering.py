"""Localized centering of face embeddings on a cohort (models.identity.centering): it spreads
people the cohort shows crowded together, keeps spread-out people apart, and the graph module
computes what numpy does."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.identity.centering import Centering, CentreOnCohort

DIM = 32


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def crowded_cohort(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A cohort where one population (around ``centre``) sits close together, as SCUT's Asian
    faces do under FaceNet, beside people spread over the whole sphere."""
    centre = unit(rng.normal(0, 1, (1, DIM)))
    crowded = unit(centre + 0.3 * rng.normal(0, 1, (200, DIM)) / np.sqrt(DIM))
    spread = unit(rng.normal(0, 1, (200, DIM)))
    return np.concatenate([crowded, spread]), centre


def test_centering_spreads_a_crowded_population_more_than_spread_people() -> None:
    rng = np.random.default_rng(0)
    cohort, centre = crowded_cohort(rng)
    centering = Centering.of(cohort, k=20, strength=0.8)
    crowded_pair = unit(centre + 0.3 * rng.normal(0, 1, (2, DIM)) / np.sqrt(DIM))
    spread_pair = unit(rng.normal(0, 1, (2, DIM)))

    def distance(pair: np.ndarray) -> float:
        return float(np.linalg.norm(pair[0] - pair[1]))

    crowded_gain = distance(centering.apply(crowded_pair)) / distance(crowded_pair)
    spread_gain = distance(centering.apply(spread_pair)) / distance(spread_pair)
    assert crowded_gain > 2.0
    assert crowded_gain > 2 * spread_gain
    np.testing.assert_allclose(np.linalg.norm(centering.apply(crowded_pair), axis=1), 1.0,
                               rtol=1e-6)


def test_graph_module_computes_what_numpy_does() -> None:
    rng = np.random.default_rng(1)
    cohort, _ = crowded_cohort(rng)
    centering = Centering.of(cohort, k=10, strength=0.8)
    probes = unit(rng.normal(0, 1, (16, DIM))).astype(np.float32)
    with torch.no_grad():
        graph = CentreOnCohort(centering)(torch.from_numpy(probes)).numpy()
    np.testing.assert_allclose(graph, centering.apply(probes), atol=1e-5)


def test_saved_centering_loads_as_applied(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    cohort, _ = crowded_cohort(rng)
    centering = Centering.of(cohort, k=7, strength=0.5)
    centering.save(tmp_path / "cohort.npz")
    loaded = Centering.load(tmp_path / "cohort.npz")
    assert (loaded.k, loaded.strength) == (7, 0.5)
    probes = unit(rng.normal(0, 1, (4, DIM)))
    np.testing.assert_array_equal(loaded.apply(probes), centering.apply(probes))
