"""Deletion and insertion curves against hand-computable cases."""

from __future__ import annotations

import numpy as np
import pytest

import probex as px
from probex.metrics import (
    deletion_auc,
    insertion_auc,
    perturbation_curve,
    random_attributions,
    random_reference,
)

W = np.array([3.0, 1.0, 2.0])


def _linear():
    """f(x) = w . x, a regression black box; x = 1 and baseline 0 below."""
    return px.BlackBox(lambda X: X @ W, task="regression", n_features=3)


def test_linear_model_curves_by_hand():
    bb = _linear()
    x, baseline = np.ones((1, 3)), np.zeros(3)
    deletion = deletion_auc(bb, x, W[None], baseline=baseline)
    # remove w = 3, then 2, then 1: f = 6, 3, 1, 0 at fractions 0, 1/3, 2/3, 1
    assert np.allclose(deletion.fractions, [0, 1 / 3, 2 / 3, 1])
    assert np.allclose(deletion.values, [[6, 3, 1, 0]])
    assert deletion.mean_auc == pytest.approx((4.5 + 2.0 + 0.5) / 3)
    insertion = insertion_auc(bb, x, W[None], baseline=baseline)
    assert np.allclose(insertion.values, [[0, 3, 5, 6]])
    assert insertion.mean_auc == pytest.approx((1.5 + 4.0 + 5.5) / 3)
    # least important first (Chefer et al.'s negative perturbation)
    ascending = perturbation_curve(bb, x, W[None], "deletion", baseline=baseline,
                                   order="ascending")
    assert np.allclose(ascending.values, [[6, 5, 3, 0]])
    assert bb.n_queries == 3 * 4


def test_groups_steps_and_classification_endpoints():
    bb = _linear()
    x = np.ones((1, 3))
    # units {0, 2} (mean attribution 2.5) then {1}: f = 6, 1, 0
    grouped = deletion_auc(bb, x, W[None], baseline=np.zeros(3), feature_groups=[0, 1, 0])
    assert np.allclose(grouped.values, [[6, 1, 0]]) and np.allclose(grouped.fractions,
                                                                   [0, 0.5, 1])
    per_group = deletion_auc(bb, x, np.array([[2.5, 1.0]]), baseline=np.zeros(3),
                             feature_groups=[0, 1, 0])
    assert np.allclose(per_group.values, grouped.values)
    coarse = deletion_auc(bb, x, W[None], baseline=np.zeros(3), n_steps=1)
    assert np.allclose(coarse.values, [[6, 0]])
    # a classifier: the curve runs from f_y(x) to f_y(baseline) for the predicted class
    clf = px.BlackBox(lambda X: 1 / (1 + np.exp(-(X @ W - 1))), n_features=3)
    X = np.array([[1.0, 1.0, 1.0], [-1.0, -2.0, 0.5]])
    curve = deletion_auc(clf, X, np.abs(X * W), background=np.zeros((5, 3)))
    probs = clf.predict(X).numpy()
    assert curve.targets.tolist() == probs.argmax(1).tolist()
    assert np.allclose(curve.values[:, 0], probs.max(1))
    base = clf.predict(np.zeros((1, 3))).numpy()[0]
    assert np.allclose(curve.values[:, -1], base[curve.targets])


def test_random_reference_is_unbiased_for_linear_model():
    """Under a uniformly random order each feature is gone for, on average, half of the
    curve: the expected deletion AUC of f = w . x (x = 1, baseline 0) is sum(w) / 2."""
    bb = _linear()
    X = np.ones((400, 3))  # 400 independent random orders
    curve = random_reference(bb, X, "deletion", n_repeats=1, seed=1, baseline=np.zeros(3))
    assert abs(curve.mean_auc - W.sum() / 2) < 4 * curve.sem_auc
    assert curve.sem_auc > 0
    assert random_attributions((2, 3), seed=0).shape == (2, 3)


def test_bad_input():
    bb = _linear()
    with pytest.raises(ValueError, match="attributions must have shape"):
        deletion_auc(bb, np.ones((2, 3)), np.ones((2, 4)), baseline=np.zeros(3))
    with pytest.raises(ValueError, match="unknown mode"):
        perturbation_curve(bb, np.ones((1, 3)), np.ones((1, 3)), "shuffle",
                           baseline=np.zeros(3))
    with pytest.raises(ValueError, match="baseline"):
        deletion_auc(bb, np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        deletion_auc(bb, np.ones((1, 3)), np.array([[np.nan, 1, 2]]), baseline=np.zeros(3))


def test_bad_background_and_target():
    clf = px.BlackBox(lambda X: 1 / (1 + np.exp(-(X @ W))), n_features=3)
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match="background has 2 features but X has 3"):
        deletion_auc(clf, X, X, background=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        deletion_auc(clf, X, X, background=np.zeros((4, 3)), target=-1)
    with pytest.raises(ValueError, match="target class 2 but the model has 2 classes"):
        insertion_auc(clf, X, X, background=np.zeros((4, 3)), target=2)
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        deletion_auc(clf, np.array([[1.0, np.nan, 0.0]]), X[:1], background=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="X has 2 columns but the model expects 3"):
        random_reference(clf, np.ones((2, 2)), background=np.zeros((4, 3)))
