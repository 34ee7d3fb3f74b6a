"""Exact Shapley values and the LIME mask target by enumeration, against closed forms."""

import math

import numpy as np
import pytest
import torch

import probex as px
from probex.metrics import (
    coalition_masks,
    exact_shapley_values,
    lime_mask_target,
    masked_game,
    shapley_from_game,
    surrogate_target_monte_carlo,
)
from probex.perturb import MaskPerturbation


class CountingModel:
    """A callable that records how many rows and calls it was asked for."""

    def __init__(self, fn):
        self.fn, self.rows, self.calls = fn, 0, 0

    def __call__(self, X):
        self.rows += X.shape[0]
        self.calls += 1
        return self.fn(X)


def interacting(X):
    """2 x0 x1 + 3 x2 + x3^2 (x4 is a dummy)."""
    return 2.0 * X[:, 0] * X[:, 1] + 3.0 * X[:, 2] + X[:, 3] ** 2


def interacting_shapley(x, b):
    """Closed form: the product term splits as a (x0 - b0)(x1 + b1) / 2 and symmetric,
    separable terms give g(x_j) - g(b_j), the dummy gets 0."""
    return np.array([(x[0] - b[0]) * (x[1] + b[1]), (x[1] - b[1]) * (x[0] + b[0]),
                     3.0 * (x[2] - b[2]), x[3] ** 2 - b[3] ** 2, 0.0])


def test_linear_model_and_cost_counted(rng):
    d, n_instances = 7, 3
    w, c = rng.normal(size=d), 0.7
    model = CountingModel(lambda X: X @ w + c)
    x, b = rng.normal(size=(n_instances, d)), rng.normal(size=d)
    truth = exact_shapley_values(model, x, b, chunk_size=100)
    np.testing.assert_allclose(truth.values, w * (x - b), atol=1e-12)
    np.testing.assert_allclose(truth.base_value, b @ w + c, atol=1e-12)
    np.testing.assert_allclose(truth.prediction, x @ w + c, atol=1e-12)
    total = n_instances * 2**d
    assert truth.n_evaluations == model.rows == total
    assert model.calls == math.ceil(total / 100)


def test_interaction_game_closed_form_and_efficiency(rng):
    x, b = rng.normal(size=(4, 5)), rng.normal(size=5)
    truth = exact_shapley_values(interacting, x, b)
    expected = np.stack([interacting_shapley(xi, b) for xi in x])
    np.testing.assert_allclose(truth.values, expected, atol=1e-12)
    np.testing.assert_allclose(truth.values.sum(1), truth.prediction - truth.base_value,
                               atol=1e-12)


def test_single_instance_drops_the_axis_and_blackbox_counts(rng):
    bb = px.BlackBox(interacting, task="regression")
    x, b = rng.normal(size=5), rng.normal(size=5)
    truth = exact_shapley_values(bb, x, b)
    assert truth.values.shape == (5,) and np.ndim(truth.base_value) == 0
    np.testing.assert_allclose(truth.values, interacting_shapley(x, b), atol=1e-12)
    assert bb.n_queries == truth.n_evaluations == 32


def test_agrees_with_shap_exact_explainer(rng):
    shap = pytest.importorskip("shap")
    d = 6
    weights = rng.normal(size=(d, d))

    def f(X):
        return np.tanh(X @ weights).sum(1) * X[:, 0] + np.sin(X[:, 1] * X[:, 2])

    x, b = rng.normal(size=(3, d)), rng.normal(size=d)
    truth = exact_shapley_values(f, x, b)
    reference = shap.explainers.Exact(f, shap.maskers.Independent(b[None, :], max_samples=1))
    np.testing.assert_allclose(truth.values, reference(x).values, atol=1e-10)


def test_game_values_follow_the_coalition_codes(rng):
    x, b = rng.normal(size=4), rng.normal(size=4)
    game = masked_game(lambda X: X @ np.array([1.0, 10.0, 100.0, 1000.0]), x, b)
    masks = coalition_masks(4)
    assert masks[5].tolist() == [1.0, 0.0, 1.0, 0.0]  # code 5 = features 0 and 2 kept
    expected = (masks * x + (1 - masks) * b) @ np.array([1.0, 10.0, 100.0, 1000.0])
    np.testing.assert_allclose(game.values[0], expected)
    # Shapley values of a game given directly: the unanimity game of {0, 1} splits 1 evenly
    unanimity = ((np.arange(8) & 3) == 3).astype(float)[None, :]
    np.testing.assert_allclose(shapley_from_game(unanimity), [[0.5, 0.5, 0.0]])


def test_lime_mask_target_linear_closed_form(rng):
    d = 6
    w, c = rng.normal(size=d), -0.3
    x, b = rng.normal(size=(2, d)), rng.normal(size=d)
    target = lime_mask_target(lambda X: X @ w + c, x, b)
    np.testing.assert_allclose(target.coef, w * (x - b), atol=1e-12)
    np.testing.assert_allclose(target.intercept, np.full(2, b @ w + c), atol=1e-12)
    assert target.n_evaluations == 2 * 2**d


def test_lime_mask_target_is_the_weighted_least_squares_fit(rng):
    from sklearn.linear_model import LinearRegression

    x, b = rng.normal(size=5), rng.normal(size=5)
    width = 1.3
    target = lime_mask_target(interacting, x, b, kernel_width=width)
    masks = coalition_masks(5)
    y = interacting(masks * x + (1 - masks) * b)
    weights = np.exp(-0.5 * ((1 - masks) ** 2).sum(1) / width**2)
    reference = LinearRegression().fit(masks, y, sample_weight=weights)
    np.testing.assert_allclose(target.coef, reference.coef_, atol=1e-10)
    assert target.intercept == pytest.approx(reference.intercept_, abs=1e-10)


def test_monte_carlo_mask_target_covers_the_enumerated_one(rng):
    """BayesLIME's mask scheme sampled 40,000 times per batch-mean estimate: each of the
    d + 1 coefficients within 4.5 standard errors (t, 19 df: two-sided 1e-4 each)."""
    x, b = rng.normal(size=5), rng.normal(size=5)
    exact = lime_mask_target(interacting, x, b)
    scheme = MaskPerturbation(replacement=torch.as_tensor(b), kernel="lime")
    mc = surrogate_target_monte_carlo(interacting, x, scheme, n_samples=40_000, n_batches=20,
                                      chunk_size=8192, seed=3)
    assert mc.df == 19 and mc.n_evaluations == 40_000
    z = (np.append(mc.coef, mc.intercept) - np.append(exact.coef, exact.intercept)) / \
        np.append(mc.coef_se, mc.intercept_se)
    assert np.all(np.abs(z) < 4.5), z
    assert np.all(mc.coef_se > 0)


@pytest.mark.parametrize("bad, match", [
    (dict(x=np.zeros((2, 2, 2))), "x must have shape"),
    (dict(baseline=np.zeros(3)), "baseline must have shape"),
    (dict(chunk_size=0), "chunk_size"),
    (dict(f=lambda X: X), "outputs"),
    (dict(f=lambda X: np.full(X.shape[0], np.nan)), "non-finite"),
    (dict(f=3), "callable"),
])
def test_bad_input_names_the_argument(bad, match):
    args = dict(f=lambda X: X.sum(1), x=np.ones(4), baseline=np.zeros(4), chunk_size=64)
    args.update(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        exact_shapley_values(args["f"], args["x"], args["baseline"],
                             chunk_size=args["chunk_size"])


def test_too_many_features_is_refused():
    with pytest.raises(ValueError, match="2\\^d"):
        exact_shapley_values(lambda X: X.sum(1), np.ones(21), np.zeros(21))
