"""Re-ranking of the ANN shortlist by local features, and the fusion with the global score.

Fusion rule (one logistic model, fitted on training data by ``models.animal.fusion``):

    p(same animal) = sigmoid(a + b * distance + c * log(1 + inliers))

where ``distance`` is the global embedding distance to the subject's nearest enrolled image and
``inliers`` the most RANSAC inliers between the query and any of the subject's shortlisted
images. Subjects are ordered by p; ``same_subject`` is p >= ``accept``, the probability at
which at most 1 % of held-out training queries accepted a wrong top subject (0.5 at least).
With no inliers the rule reduces to distance < (logit(accept) - a) / b, the distance
threshold a collection reports.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from services.animal_identity.keypoints import LocalFeatures, inliers

SHORTLIST = 5  # subjects re-ranked per query (the ANN's nearest)
PER_SUBJECT = 2  # of each, its nearest enrolled images matched by local features


@dataclass(frozen=True)
class Fusion:
    intercept: float
    distance: float  # coefficient of the global distance (negative)
    inliers: float  # coefficient of log(1 + inliers) (positive)
    accept: float = 0.5  # probability from which a subject is the same animal

    def probability(self, distance: float, inlier_count: int) -> float:
        z = self.intercept + self.distance * distance + self.inliers * math.log1p(inlier_count)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def same(self, probability: float) -> bool:
        return probability >= self.accept

    @property
    def distance_threshold(self) -> float:
        """The distance at which p = accept when no local feature matches."""
        return (math.log(self.accept / (1.0 - self.accept)) - self.intercept) / self.distance


@dataclass(frozen=True)
class ImageHit:
    """One enrolled image the ANN search returned, with its stored local features."""

    subject: str
    distance: float
    local: LocalFeatures | None


@dataclass(frozen=True)
class Ranked:
    subject: str
    distance: float
    inliers: int
    probability: float


def rerank(query: LocalFeatures, hits: Sequence[ImageHit], fusion: Fusion,
           shortlist: int = SHORTLIST, per_subject: int = PER_SUBJECT) -> list[Ranked]:
    """The nearest ``shortlist`` subjects of ``hits`` (sorted by distance), most likely first."""
    images: dict[str, list[ImageHit]] = {}
    for hit in sorted(hits, key=lambda h: h.distance):
        if hit.subject in images or len(images) < shortlist:
            images.setdefault(hit.subject, []).append(hit)
    ranked = []
    for subject, own in images.items():
        best = max((inliers(query, h.local) for h in own[:per_subject] if h.local is not None),
                   default=0)
        distance = own[0].distance
        ranked.append(Ranked(subject, distance, best, fusion.probability(distance, best)))
    return sorted(ranked, key=lambda r: (-r.probability, r.distance))


def rank_subjects(query: LocalFeatures | None, hits: Sequence[ImageHit], fusion: Fusion,
                  top_k: int) -> list[Ranked]:
    """The re-ranked shortlist (``query`` given), then the other subjects by distance alone."""
    shortlist = rerank(query, hits, fusion) if query is not None else []
    ranked, seen = list(shortlist), {r.subject for r in shortlist}
    for hit in sorted(hits, key=lambda h: h.distance):
        if hit.subject not in seen:
            seen.add(hit.subject)
            ranked.append(Ranked(hit.subject, hit.distance, 0, fusion.probability(hit.distance, 0)))
    return ranked[:top_k]
