"""The part table: each attribute is (name, model, framing, output, decoder).

A part's model takes the face at its own framing: ``reframe`` cuts it out of the gateway's
crop (aligned at SHARED_CROP_MARGIN) at ``margin`` and resizes it to ``size``; the model gets
raw RGB 0..255 as float32 NCHW (any normalisation is inside the graph). Parts that share a
model and a framing share one inference. Adding an attribute is one ``Part``; a part whose
model is not installed answers "not installed" while the others answer.

Margins of the face-api nets were chosen on real labelled faces (``python -m
models.evaluation.age --sweep``); the race and beauty heads are trained at the framing their
model cards state, which the service checks against this table at start.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xcloud import names


@dataclass(frozen=True)
class Framing:
    # context around the face template as alignment.reframe takes it: at most the gateway's
    # SHARED_CROP_MARGIN; below 0 the view is tighter than the ArcFace template
    margin: float
    size: int      # side of the model's square input


@dataclass(frozen=True)
class Age:
    years: float


@dataclass(frozen=True)
class Gender:
    label: str
    probability: float


@dataclass(frozen=True)
class Race:
    label: str
    probability: float
    probabilities: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Beauty:
    score: float


# (one row of the part's output, the output's labels from the model card) -> the part's value
Decoder = Callable[[np.ndarray, Sequence[str]], Any]


@dataclass(frozen=True)
class Part:
    name: str
    model: str
    framing: Framing
    output: str  # which of the model's outputs the decoder reads
    decode: Decoder


def decode_age(values: np.ndarray, labels: Sequence[str]) -> Age:
    return Age(float(np.ravel(values)[0]))


def decode_gender(values: np.ndarray, labels: Sequence[str]) -> Gender:
    best = int(np.argmax(values))
    return Gender(str(labels[best]).lower(), float(values[best]))


def decode_race(values: np.ndarray, labels: Sequence[str]) -> Race:
    best = int(np.argmax(values))
    pairs = tuple((str(label).lower(), float(p)) for label, p in zip(labels, values))
    return Race(pairs[best][0], pairs[best][1], pairs)


def decode_beauty(values: np.ndarray, labels: Sequence[str]) -> Beauty:
    return Beauty(float(np.ravel(values)[0]))


def decode_embedding(values: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    return np.asarray(values, np.float32)


# face-api's nets were trained on detector boxes, which are tighter than the ArcFace template:
# on UTKFace and SCUT-FBP5500 (python -m models.evaluation.age --sweep) age and gender were best
# from margin -0.2 to -0.1, and -0.2 cuts exactly 112 px out of the gateway's 224 px crop. The
# recognition net (dlib's 150 px chip, eyes 0.35 of the side apart) is used at the same margin.
# The trained heads (models/attributes) take 224 at margin 0.3, as their cards state.
FACEAPI_MARGIN = -0.2
AGE_GENDER_FRAMING = Framing(margin=FACEAPI_MARGIN, size=112)
HEAD_FRAMING = Framing(margin=0.3, size=224)
# A name listed several times is one attribute with a preferred model and fallbacks
# (active_parts). First the shared trunk (face_trunk_xcloud: one backbone pass answers age,
# gender, race, beauty and the embedding, so every part reads one inference), then today's
# separate models: our gender head (98.8 % on SCUT-FBP5500 test_40) before face-api's (94.0 %).
TRUNK = names.FACE_TRUNK
PARTS: tuple[Part, ...] = (
    Part("age", TRUNK, HEAD_FRAMING, "age", decode_age),
    Part("age", names.FACEAPI_AGE_GENDER, AGE_GENDER_FRAMING, "age", decode_age),
    Part("gender", TRUNK, HEAD_FRAMING, "gender", decode_gender),
    Part("gender", names.GENDER, HEAD_FRAMING, "probabilities", decode_gender),
    Part("gender", names.FACEAPI_AGE_GENDER, AGE_GENDER_FRAMING, "gender", decode_gender),
    Part("race", TRUNK, HEAD_FRAMING, "race", decode_race),
    Part("race", names.RACE, HEAD_FRAMING, "probabilities", decode_race),
    Part("beauty", TRUNK, HEAD_FRAMING, "beauty", decode_beauty),
    Part("beauty", names.BEAUTY, HEAD_FRAMING, "score", decode_beauty),
)
# The embedding, the same way: the identity graph's (face_embedding_xcloud, FaceNet + our
# calibrated head, the FACE collections' model), else face-api's 128-d descriptor. It is not a
# trunk output: it reads a net no attribute head reads (models/attributes/trunk.py says why).
# An embedding is comparable only with one of the same model and version (each says which).
EMBEDDING = Part("embedding", names.FACEAPI_RECOGNITION,
                 Framing(margin=FACEAPI_MARGIN, size=150), "embedding", decode_embedding)
EMBEDDINGS: tuple[Part, ...] = (
    Part("embedding", names.FACE_EMBEDDING, HEAD_FRAMING, "embedding", decode_embedding),
    EMBEDDING,
)


def active_parts(parts: Sequence[Part], installed: Collection[str]) -> tuple[Part, ...]:
    """One part per attribute name, in table order: the first whose model is installed, or,
    when none is, the first (which then answers "not installed")."""
    chosen: dict[str, Part] = {}
    for part in parts:
        current = chosen.get(part.name)
        if current is None or (current.model not in installed and part.model in installed):
            chosen[part.name] = part
    return tuple(chosen.values())
