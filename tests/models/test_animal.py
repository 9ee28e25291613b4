"""The animal re-identification pieces alone: SIFT re-ranking on real cow images, the
metric-learning head on data it must separate, the feature layout the exported graph indexes."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from models.animal import features
from models.animal.head import TrainConfig, embed, train_head
from services.animal_identity import keypoints
from services.animal_identity.keypoints import LocalFeatures
from services.animal_identity.rerank import Fusion, ImageHit, rank_subjects, rerank
from services.runtime.imaging import decode_image

DATA = Path(os.environ.get("XCLOUD_DATA")
            or Path(__file__).resolve().parents[2].parent / "shared" / "data")
OPENCOWS = DATA / "opencows2020"
needs_opencows = pytest.mark.skipif(not (OPENCOWS / "train").is_dir(),
                                    reason=f"opencows2020 not found under {DATA} (set XCLOUD_DATA)")
FUSION = Fusion(intercept=3.0, distance=-4.0, inliers=1.5)


def local_of(path: Path) -> LocalFeatures:
    return keypoints.extract(decode_image(path.read_bytes()))


@needs_opencows
def test_local_features_rank_the_same_cow_above_another_at_equal_global_distance():
    """Six cows, each queried against itself and the next one at one global distance: the
    same cow never gets fewer inliers, and wins outright for at least five (a hard query may
    tie on chance-level counts)."""
    cows = sorted(p.name for p in (OPENCOWS / "train").iterdir())[:6]
    wins = 0
    for i, cow in enumerate(cows):
        other = cows[(i + 1) % len(cows)]
        query = local_of(min((OPENCOWS / "test" / cow).iterdir()))
        hits = [ImageHit(subject, 0.8, local_of(path)) for subject in (other, cow)
                for path in sorted((OPENCOWS / "train" / subject).iterdir())[:3]]
        ranked = {r.subject: r for r in rerank(query, hits, FUSION, shortlist=2, per_subject=3)}
        assert ranked[cow].inliers >= ranked[other].inliers, (cow, ranked)
        if ranked[cow].inliers > ranked[other].inliers:
            assert ranked[cow].probability > ranked[other].probability
            wins += 1
    assert wins >= 5


@needs_opencows
def test_local_features_survive_storage_and_match_themselves_best():
    path = min((OPENCOWS / "train" / "001").iterdir())
    found = local_of(path)
    assert len(found) >= 20 and found.descriptors.dtype == np.uint8
    again = LocalFeatures.from_bytes(*found.to_bytes())
    np.testing.assert_array_equal(again.points, found.points)
    assert keypoints.inliers(found, again) >= 0.8 * len(found)


def test_matches_are_kept_only_when_mutual():
    """Two query points whose nearest candidate point is the same one: only the one that point
    itself is nearest to survives (a repeated texture's one-way matches are dropped)."""
    rng = np.random.default_rng(0)
    candidate = rng.uniform(0, 255, (6, keypoints.DESCRIPTOR_SIZE)).astype(np.float32)
    query = np.vstack([candidate[:3] + 1.0, candidate[[0]] + 20.0])  # row 3: a second claim on 0
    rows, cols = keypoints.mutual_matches(query, candidate)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 0), (1, 1), (2, 2)]


def test_without_local_features_the_order_is_the_global_distance_and_the_threshold_holds():
    hits = [ImageHit("far", 1.2, None), ImageHit("near", 0.3, None), ImageHit("near", 0.9, None)]
    ranked = rank_subjects(None, hits, FUSION, top_k=5)
    assert [(r.subject, r.distance) for r in ranked] == [("near", 0.3), ("far", 1.2)]
    threshold = FUSION.distance_threshold
    assert FUSION.probability(threshold - 0.01, 0) > 0.5 > FUSION.probability(threshold + 0.01, 0)


def test_the_arcface_head_separates_individuals_it_never_saw():
    """Identity lives in 32 dimensions, 96 others carry loud nuisance (pose, light): the head
    must learn to ignore those for animals outside its training set too."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (40, 32))

    def draw(animals, n):
        labels = np.repeat(animals, n)
        own = centres[labels] + rng.normal(0, 0.4, (len(labels), 32))
        return np.hstack([own, rng.normal(0, 2.0, (len(labels), 96))]), labels
    x, y = draw(np.arange(30), 12)
    head = train_head(x, y, TrainConfig(dim=16, epochs=30, batch=64))
    gallery, gallery_labels = draw(np.arange(30, 40), 1)  # unseen animals: one photo each
    queries, truth = draw(np.arange(30, 40), 5)
    g, q = embed(head, gallery), embed(head, queries)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    nearest = gallery_labels[np.argmin(np.linalg.norm(q[:, None] - g[None], axis=2), axis=1)]
    raw_distances = np.linalg.norm(queries[:, None] - gallery[None], axis=2)
    raw = gallery_labels[np.argmin(raw_distances, axis=1)]
    assert np.mean(nearest == truth) >= 0.8 > np.mean(raw == truth) + 0.2


def test_feature_groups_tile_the_feature_row():
    spans = sorted(features.FEATURE_GROUPS.values())
    assert spans[0][0] == 0 and spans[-1][1] == features.FEATURE_DIM
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert len(features.columns(["gap18", "grid18"])) == 1280 * 5
