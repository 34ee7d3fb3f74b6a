"""Selection metrics against hand-computed values."""

import numpy as np
import pytest

from probex.metrics import (
    false_discovery_rate,
    selected_feature_accuracy,
    selection_f1,
    selection_report,
    true_positive_rate,
)

SELECTED = np.array([[1, 1, 0, 0, 1],   # S = {0, 1, 4}
                     [0, 0, 0, 0, 0],   # S empty
                     [0, 0, 1, 1, 0]], dtype=bool)
RELEVANT = np.array([[1, 0, 0, 0, 1],   # T = {0, 4}: TP 2, FP 1
                     [1, 1, 0, 0, 0],   # TP 0 of 2
                     [0, 0, 1, 1, 0]], dtype=bool)


def test_per_instance_values():
    np.testing.assert_allclose(true_positive_rate(SELECTED, RELEVANT, average=False),
                               [1.0, 0.0, 1.0])
    np.testing.assert_allclose(false_discovery_rate(SELECTED, RELEVANT, average=False),
                               [1 / 3, 0.0, 0.0])
    np.testing.assert_allclose(selection_f1(SELECTED, RELEVANT, average=False),
                               [2 * 2 / (3 + 2), 0.0, 1.0])


def test_means_and_report():
    report = selection_report(SELECTED, RELEVANT)
    assert report["tpr"] == pytest.approx(2 / 3)
    assert report["fdr"] == pytest.approx(1 / 9)
    assert report["f1"] == pytest.approx((0.8 + 0 + 1) / 3)
    assert report["size"] == pytest.approx(5 / 3)
    assert true_positive_rate(SELECTED[0], RELEVANT[0]) == 1.0  # a single instance
    assert selection_f1(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_selected_feature_accuracy():
    X = np.array([[2.0, -1.0], [-3.0, 5.0], [1.0, 1.0]])
    y = np.array([1, 0, 0])

    def predict(rows):  # class 1 iff the first feature is positive
        return (rows[:, 0] > 0).astype(int)

    everything = np.ones_like(X, dtype=bool)
    assert selected_feature_accuracy(predict, X, everything, y) == pytest.approx(2 / 3)
    first_dropped = np.array([[0, 1], [0, 1], [0, 1]], dtype=bool)
    # filling x1 with 0 predicts class 0 everywhere; with 1, class 1 everywhere
    assert selected_feature_accuracy(predict, X, first_dropped, y, fill=0.0) == pytest.approx(
        2 / 3)
    assert selected_feature_accuracy(predict, X, first_dropped, y,
                                     fill=[1.0, 0.0]) == pytest.approx(1 / 3)

    def proba(rows):
        p = (rows[:, 0] > 0).astype(float)
        return np.stack([1 - p, p], axis=1)

    assert selected_feature_accuracy(proba, X, everything, y) == pytest.approx(2 / 3)


def test_errors():
    with pytest.raises(ValueError, match="same shape"):
        true_positive_rate(SELECTED, RELEVANT[:2])
    with pytest.raises(ValueError, match="0/1"):
        selection_f1(SELECTED * 2, RELEVANT)
    with pytest.raises(ValueError, match="shapes"):
        selected_feature_accuracy(lambda r: r[:, 0], np.zeros((3, 2)), np.ones((3, 2)),
                                  np.zeros(2))
