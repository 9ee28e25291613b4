"""Heads over the frozen features: every one ends as ONE linear layer on the raw features.

- ``seed_regressor``: the seed's method, Bayesian ridge regression on the verification net's
  low + high level features (``features.SEED_GROUPS``).
- ``stacked_ridge``: one ridge per set of feature groups (its penalty chosen by exact
  leave-one-out on the training rows), combined by non-negative least squares on those
  leave-one-out predictions.
  A weighted sum of linear models is linear, so the ensemble folds into one weight vector.
- ``logistic``: multinomial logistic regression, C chosen by stratified 3-fold CV.

Standardisation and group selection are folded into the weights, so serving is ``x @ W.T + b``
on the features the graph computes. Hyper-parameters are only ever chosen on training rows.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from sklearn.linear_model import BayesianRidge, LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from models.attributes.features import columns, nets_of, width
from models.attributes.linear import LinearHead

RIDGE_ALPHAS = np.logspace(0, 5, 21)  # on standardised features: 1 .. 1e5
LOGISTIC_CS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
SEED = 0


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), x.std(axis=0) + 1e-6


def _fold(coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray, std: np.ndarray,
          cols: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights on standardised selected columns -> weights on the raw full-width features."""
    coef = np.atleast_2d(coef)
    weight = np.zeros((coef.shape[0], dim))
    weight[:, cols] = coef / std
    return weight, np.atleast_1d(intercept) - (coef / std) @ mean


def _restricted(x: np.ndarray, groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Columns of ``groups`` within x = features of every net, and the nets they need."""
    nets = nets_of(groups)
    own = columns(groups, nets)         # position within the nets' own features
    return x[:, columns(groups)], own, nets


def seed_regressor(x: np.ndarray, y: np.ndarray, groups: Sequence[str]) -> LinearHead:
    """The seed: Bayesian ridge (evidence-maximised penalty) on standardised features."""
    sub, own, nets = _restricted(x, groups)
    mean, std = _standardiser(sub)
    model = BayesianRidge().fit((sub - mean) / std, y)
    dim = width(nets)
    weight, bias = _fold(model.coef_, model.intercept_, mean, std, own, dim)
    return LinearHead(nets, weight, bias, {"method": "BayesianRidge", "groups": list(groups)})


@dataclass(frozen=True)
class RidgeFit:
    dual: np.ndarray          # (n,) dual coefficients at the chosen penalty
    alpha: float
    loo: np.ndarray           # (n,) leave-one-out predictions at that penalty


def ridge_loo(gram: np.ndarray, y: np.ndarray, alphas: np.ndarray = RIDGE_ALPHAS) -> RidgeFit:
    """Kernel ridge with an intercept on a centred linear ``gram``; the penalty minimising the
    exact leave-one-out error (Allen's PRESS, from one eigendecomposition for every alpha)."""
    values, vectors = np.linalg.eigh(gram)
    values = np.clip(values, 0.0, None)
    centred = y - y.mean()
    projected = vectors.T @ centred
    best: RidgeFit | None = None
    for alpha in alphas:
        shrink = values / (values + alpha)
        fitted = vectors @ (shrink * projected) + y.mean()
        leverage = (vectors ** 2) @ shrink + 1.0 / len(y)  # + the intercept's share
        loo = y - (y - fitted) / (1.0 - leverage)
        if best is None or np.mean((loo - y) ** 2) < np.mean((best.loo - y) ** 2):
            best = RidgeFit(vectors @ (projected / (values + alpha)), float(alpha), loo)
    assert best is not None
    return best


def stacked_ridge(x: np.ndarray, y: np.ndarray, group_sets: Sequence[Sequence[str]]) -> LinearHead:
    """One ridge per group set, blended by non-negative weights fitted on their leave-one-out
    predictions. Per-column standardisation makes the Gram matrix of a set the sum of its
    groups' Gram matrices, so each group's is computed once."""
    used = sorted({g for groups in group_sets for g in groups})
    nets = nets_of(used)
    mean, std = _standardiser(x)
    grams = {}
    for group in used:
        cols = columns([group])
        z = ((x[:, cols] - mean[cols]) / std[cols]).astype(np.float32)
        grams[group] = (z @ z.T).astype(np.float64)
    fits = [ridge_loo(sum(grams[g] for g in groups), y) for groups in group_sets]
    # Blend deviations from the mean, so the offset is free while the weights stay >= 0.
    blend, _ = nnls(np.column_stack([f.loo - y.mean() for f in fits]), y - y.mean())
    weight, bias = np.zeros((1, width(nets))), np.array([y.mean() * (1.0 - blend.sum())])
    for share, fit, groups in zip(blend, fits, group_sets):
        cols = columns(groups)
        coef = ((x[:, cols] - mean[cols]) / std[cols]).T @ fit.dual  # primal weights
        w, b = _fold(coef, y.mean(), mean[cols], std[cols], columns(groups, nets), width(nets))
        weight, bias = weight + share * w, bias + share * b
    record = {"method": "stacked ridge", "group_sets": [list(g) for g in group_sets],
              "alphas": [f.alpha for f in fits], "blend": [float(v) for v in blend]}
    return LinearHead(nets, weight, bias, record)


def logistic(x: np.ndarray, y: np.ndarray, groups: Sequence[str], n_classes: int) -> LinearHead:
    """Multinomial logistic regression; C by stratified 3-fold CV on the training rows."""
    sub, own, nets = _restricted(x, groups)
    mean, std = _standardiser(sub)
    search = GridSearchCV(
        LogisticRegression(max_iter=300), {"C": LOGISTIC_CS},
        cv=StratifiedKFold(3, shuffle=True, random_state=SEED), scoring="accuracy",
    ).fit((sub - mean) / std, y)
    model = search.best_estimator_
    coef, intercept = model.coef_, model.intercept_
    if n_classes == 2:  # sklearn keeps one row for two classes: logits (0, z) give the same softmax
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.r_[0.0, intercept]
    full = np.zeros((n_classes, coef.shape[1]))
    full[model.classes_] = coef  # a class absent from training keeps zero weight
    bias = np.full(n_classes, -1e3)
    bias[model.classes_] = intercept
    dim = width(nets)
    weight, bias = _fold(full, bias, mean, std, own, dim)
    record = {"method": "logistic regression", "groups": list(groups),
              "C": float(search.best_params_["C"])}
    return LinearHead(nets, weight, bias, record)


def regression_figures(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The benchmark's figures: Pearson correlation, mean absolute and root mean square error."""
    error = predicted - truth
    return {"pc": float(np.corrcoef(truth, predicted)[0, 1]), "mae": float(np.abs(error).mean()),
            "rmse": float(np.sqrt((error ** 2).mean()))}
