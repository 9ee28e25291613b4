"""The face identity head's pieces: pair metrics, the PCA + LDA projection, folder-per-subject
sets, the calibration, and the served graph (when built) against the numpy head."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.attributes import features
from models.identity import metrics
from models.identity.data import folder_set
from models.identity.projection import ProjectionConfig, embed, fit_projection, subject_split
from models.identity.train import identity_block, score_calibration, thresholds

GROUP = "faceres.face"


def clustered(subjects: int, per: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features of every net (full width) where only ``GROUP`` carries identity: people differ
    in 8 directions that every population shares, and a photo's pose/light moves it far along
    two others (the nuisance the raw cosine is fooled by)."""
    cols = features.columns([GROUP])
    fixed = np.random.default_rng(123)
    identity_dirs = fixed.normal(0, 1, (8, len(cols)))
    nuisance_dirs = fixed.normal(0, 1, (2, len(cols)))
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(subjects), per)
    x = np.zeros((len(labels), features.width()), np.float32)
    x[:, cols] = (rng.normal(0, 1, (subjects, 8))[labels] @ identity_dirs
                  + rng.normal(0, 3, (len(labels), 2)) @ nuisance_dirs
                  + rng.normal(0, 0.3, (len(labels), len(cols))))
    return x, labels


def test_pair_distances_split_genuine_from_impostor() -> None:
    vectors = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    pairs = metrics.pair_distances(vectors, np.array([7, 7, 8]))
    np.testing.assert_allclose(pairs.genuine, [1.0])
    np.testing.assert_allclose(sorted(pairs.impostor), [np.sqrt(18.0), 5.0])


def test_threshold_lets_through_at_most_the_stated_share() -> None:
    impostor = np.arange(1000, dtype=float)
    threshold = metrics.threshold_at(impostor, 1e-2)
    assert metrics.far_at(impostor, threshold) <= 1e-2
    assert metrics.far_at(impostor, threshold + 1) > 1e-2  # and it is the loosest such distance


def test_rank1_uses_the_first_image_of_each_subject() -> None:
    vectors = np.array([[0.0], [10.0], [0.4], [9.0], [6.0]])
    assert metrics.rank1(vectors, np.array([0, 1, 0, 1, 0])) == pytest.approx(2 / 3)


def test_projection_separates_people_the_raw_features_confuse() -> None:
    x, labels = clustered(60, 4, seed=0)
    head = fit_projection(x, labels, ProjectionConfig((GROUP,), pca_dim=16, ridge=0.1))
    test_x, test_labels = clustered(60, 4, seed=1)  # other people, same kind of photos
    raw = test_x[:, features.columns([GROUP])]
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    before = metrics.roc(metrics.pair_distances(raw, test_labels))["tar_at_far_0.01"]
    fitted = embed(head, test_x)
    after = metrics.roc(metrics.pair_distances(fitted, test_labels))["tar_at_far_0.01"]
    np.testing.assert_allclose(np.linalg.norm(fitted, axis=1), 1.0, rtol=1e-5)
    assert after > before + 0.2


def test_thresholds_take_the_strictest_set_and_score_is_monotone() -> None:
    rng = np.random.default_rng(0)
    loose, strict = rng.uniform(0.5, 2.0, 5000), rng.uniform(0.8, 2.0, 5000)
    table = thresholds({"a": loose, "b": strict})
    assert table["0.001"] == metrics.threshold_at(loose, 1e-3)
    pairs = metrics.PairDistances(rng.uniform(0.0, 0.9, 500), rng.uniform(0.7, 2.0, 5000))
    curve = score_calibration(pairs)
    assert curve["b"] < 0  # farther apart: less likely the same person
    block = identity_block(table, curve)
    assert block["threshold"] == table["0.001"] and block["target_far"] == 1e-3


def test_folder_set_reads_subject_folders(tmp_path: Path) -> None:
    for subject, count in (("bob", 2), ("alice", 1), ("empty", 0)):
        (tmp_path / subject).mkdir()
        for i in range(count):
            (tmp_path / subject / f"{i}.jpg").write_bytes(b"x")
    (tmp_path / "alice" / "notes.txt").write_text("not an image")
    got = folder_set(tmp_path)
    assert got.names == ["alice", "bob"] and got.subjects.tolist() == [0, 1, 1]
    with pytest.raises(FileNotFoundError):
        folder_set(tmp_path / "missing")


def test_subject_split_is_stable_and_near_its_share() -> None:
    names = [f"person_{i}" for i in range(2000)]
    held = subject_split(names, 0.2)
    assert held.tolist() == subject_split(names, 0.2).tolist()
    assert 0.17 < held.mean() < 0.23
