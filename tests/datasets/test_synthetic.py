"""Synthetic selection sets: generating formulas, ground-truth masks, seeding."""

import numpy as np
import pytest

from probex.datasets import make_synthetic, synthetic_probability
from probex.datasets.synthetic import SYNTHETIC_SETS


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_formulas_of_the_papers():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 10))
    np.testing.assert_allclose(synthetic_probability("xor", X),
                               1 / (1 + np.exp(X[:, 0] * X[:, 1])))
    np.testing.assert_allclose(synthetic_probability("orange_skin", X),
                               1 / (1 + np.exp((X[:, :4] ** 2).sum(1) - 4)))
    additive = -10 * np.sin(0.2 * X[:, 0]) + np.abs(X[:, 1]) + X[:, 2] + np.exp(-X[:, 3]) - 2.4
    np.testing.assert_allclose(synthetic_probability("nonlinear_additive", X),
                               1 / (1 + np.exp(additive)))
    on = X[:, 9] > 0
    switch = synthetic_probability("switch", X)
    np.testing.assert_allclose(switch[on], synthetic_probability("orange_skin", X)[on])
    moved = np.concatenate([X[:, 4:8], X[:, :4], X[:, 8:]], axis=1)
    np.testing.assert_allclose(switch[~on],
                               synthetic_probability("nonlinear_additive", moved)[~on])
    z = (X[:, :3] - 1) / np.linspace(0.5, 2.0, 10)[:3]
    np.testing.assert_allclose(synthetic_probability("diagonal_gaussian", X),
                               _sigmoid(4 * (z[:, 0] - z[:, 1] + z[:, 2])))


@pytest.mark.parametrize("name", SYNTHETIC_SETS)
def test_sets_are_seeded_and_consistent(name):
    a = make_synthetic(name, n=4000, seed=3)
    b = make_synthetic(name, n=4000, seed=3)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, make_synthetic(name, n=4000, seed=4).X)
    assert a.X.shape == (4000, 10) and a.relevant.shape == (4000, 10)
    np.testing.assert_allclose(a.probability, synthetic_probability(name, a.X))
    assert set(np.unique(a.y)) == {0, 1}
    # sampled labels: their mean is the mean probability within 4 binomial standard errors
    se = np.sqrt(np.mean(a.probability * (1 - a.probability)) / a.X.shape[0])
    assert abs(a.y.mean() - a.probability.mean()) < 4 * se
    hard = make_synthetic(name, n=4000, seed=3, labels="threshold")
    np.testing.assert_array_equal(hard.y, (a.probability > 0.5).astype(int))


def test_ground_truth_masks():
    assert make_synthetic("xor", n=10).relevant.sum(1).tolist() == [2] * 10
    orange = make_synthetic("orange_skin", n=10).relevant
    assert orange[:, :4].all() and not orange[:, 4:].any()
    switch = make_synthetic("switch", n=5000, seed=0)
    on = switch.X[:, 9] > 0
    assert switch.relevant[on][:, [0, 1, 2, 3, 9]].all()
    assert not switch.relevant[on][:, 4:9].any()
    assert switch.relevant[~on][:, [4, 5, 6, 7, 9]].all()
    assert not switch.relevant[~on][:, :4].any()
    # x10 is a two-component mixture at -3 and +3 with equal weights
    assert abs(on.mean() - 0.5) < 4 * np.sqrt(0.25 / 5000)
    assert abs(switch.X[on, 9].mean() - 3.0) < 0.1
    gauss = make_synthetic("diagonal_gaussian", n=20_000, seed=0)
    scales = np.linspace(0.5, 2.0, 10)
    assert np.all(np.abs(gauss.X.mean(0) - 1.0) < 4 * scales / np.sqrt(20_000))
    assert np.all(np.abs(gauss.X.std(0) / scales - 1) < 0.03)
    assert abs(np.corrcoef(gauss.X.T)[0, 1]) < 4 / np.sqrt(20_000)


def test_split_and_errors():
    data = make_synthetic("xor", n=100, seed=0)
    train, test = data.split(80)
    assert train.X.shape == (80, 10) and test.X.shape == (20, 10)
    np.testing.assert_array_equal(test.relevant, data.relevant[80:])
    with pytest.raises(ValueError, match="unknown synthetic set"):
        make_synthetic("spiral")
    with pytest.raises(ValueError, match="n_features"):
        make_synthetic("xor", n_features=5)
    with pytest.raises(ValueError, match="labels"):
        make_synthetic("xor", labels="soft")
    with pytest.raises(ValueError, match="at least 10"):
        synthetic_probability("xor", np.zeros((3, 4)))
