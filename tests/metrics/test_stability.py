"""Reproducibility and neighbourhood stability, checked on hand-computable cases."""

import itertools

import numpy as np
import pytest
from scipy import stats

from probex.metrics import (
    kendall_tau_reproducibility,
    neighbourhood_stability,
    reproducibility,
    top_k_jaccard,
)


def test_identical_runs_are_perfectly_reproducible():
    a = np.array([0.5, -2.0, 0.1, 1.0, 0.0, -0.3])
    result = reproducibility([a, a, a], k=3)
    assert result["jaccard"] == 1.0 and result["kendall_tau"] == pytest.approx(1.0)


def test_top_k_jaccard_by_hand():
    # top-2 by |value|: {0, 1}, {0, 2}, {0, 1}
    runs = [np.array([3.0, -2.0, 1.0, 0.0]), np.array([3.0, 0.5, -2.0, 0.0]),
            np.array([-5.0, 4.0, 0.1, 0.2])]
    # pairs: {0,1}v{0,2} = 1/3, {0,1}v{0,1} = 1, {0,2}v{0,1} = 1/3
    assert top_k_jaccard(runs, k=2) == pytest.approx((1 / 3 + 1 + 1 / 3) / 3)
    # signed ranking, top-2 of the values themselves: {0, 2}, {0, 1}, {1, 3}
    assert top_k_jaccard(runs, k=2, absolute=False) == pytest.approx((1 / 3 + 0 + 1 / 3) / 3)


def test_kendall_tau_is_the_mean_over_pairs(rng):
    runs = rng.normal(size=(5, 8))
    expected = np.mean([stats.kendalltau(np.abs(runs[i]), np.abs(runs[j])).statistic
                        for i, j in itertools.combinations(range(5), 2)])
    assert kendall_tau_reproducibility(runs) == pytest.approx(expected)
    reversed_runs = [np.arange(1.0, 9.0), np.arange(8.0, 0.0, -1.0)]
    assert kendall_tau_reproducibility(reversed_runs) == pytest.approx(-1.0)


def test_accepts_explanation_like_objects_and_rejects_bad_input():
    class Fake:
        def __init__(self, mean):
            self.mean = np.asarray(mean)

    runs = [Fake([1.0, 2.0, 3.0]), Fake([1.0, 2.0, 3.0])]
    assert top_k_jaccard(runs, k=1) == 1.0
    with pytest.raises(ValueError, match="at least 2 runs"):
        top_k_jaccard([np.ones(3)], k=1)
    with pytest.raises(ValueError, match="k must be between"):
        top_k_jaccard([np.ones(3), np.ones(3)], k=4)
    with pytest.raises(ValueError, match="same d"):
        top_k_jaccard([np.ones(3), np.ones(4)], k=1)
    with pytest.raises(ValueError, match="NaN"):
        kendall_tau_reproducibility([np.ones(3), np.array([1.0, np.nan, 2.0])])


def test_neighbourhood_stability_of_a_linear_and_of_a_jumpy_explainer():
    w = np.array([3.0, -2.0, 1.0, 0.5, 0.1])
    calls = []

    def linear_explainer(x):  # attributions w * x: small moves, small changes
        calls.append(x)
        return w * (1.0 + 0.0 * x) + 0.01 * x

    x = np.ones(5)
    smooth = neighbourhood_stability(linear_explainer, x, n_neighbours=4, noise_scale=0.1,
                                     k=2, seed=0)
    assert smooth["jaccard"] == 1.0 and smooth["kendall_tau"] == pytest.approx(1.0)
    # ||0.01 * (x' - x)|| / ||a(x)|| with x' - x ~ N(0, 0.1^2 I): about 0.01 * 0.1 * sqrt(5) / 3.9
    assert 0 < smooth["relative_change"] < 1e-3
    assert len(calls) == 5 and np.array_equal(calls[0], x)

    def jumpy(x):  # the ranking flips with the sign of the first noise coordinate
        return w[::-1] if x[0] > 1 else w

    rough = neighbourhood_stability(jumpy, x, n_neighbours=50, noise_scale=0.1, k=2, seed=0)
    assert 0 < rough["jaccard"] < 1 and rough["kendall_tau"] < 0.9
    with pytest.raises(ValueError, match="finite vector"):
        neighbourhood_stability(jumpy, np.ones((2, 2)))
