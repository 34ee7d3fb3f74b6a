"""Honest Monte Carlo errors for the Gaussian-smoothed gradient (SmoothGrad from gradients,
C-LIME's estimand from function values) on a saturating classifier with a quadrature truth.

Calibration is measured by the mean squared z-score, z = (estimate - truth) / se, pooled
over 6 instances x 6 features x 15 seeds (90 independent runs, features correlated within
a run). For an honest se, E[z^2] = 1 (a little above with the Student-t spread of a
variance estimated from ~50 terms); with about 90 effective runs the pooled mean has a
standard error near 0.15, so [0.7, 1.4] is two standard errors around the honest value.
"""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import probex as px
from probex.explainers.smoothgrad import logistic_smoothgrad
from probex.inference.smoothed_gradient import smoothgrad_estimate, stein_gradient_estimate
from tests.inference.saturating import (
    N_FEATURES,
    SIGMA,
    ProjectedNet,
    instances,
    smoothgrad_truth,
)

SEEDS = range(15)


@pytest.fixture(scope="module")
def saturating():
    bb = px.BlackBox(ProjectedNet(), target=1, n_features=N_FEATURES)
    X = instances()
    return bb, X, np.array([smoothgrad_truth(x) for x in X])


def _calibration(estimate, X, truth, n):
    z2, errors = [], []
    for k, x in enumerate(X):
        for seed in SEEDS:
            mean, se = estimate(x, n, seed)
            z2.append(((mean - truth[k]) / se) ** 2)
            errors.append(np.linalg.norm(mean - truth[k]) / np.linalg.norm(truth[k]))
    return float(np.mean(z2)), float(np.mean(errors))


def test_quadrature_truth_agrees_with_plain_monte_carlo(saturating):
    bb, X, truth = saturating
    x = torch.as_tensor(X[2])                     # near the boundary: plain MC is fine here
    z = SIGMA * torch.randn(200_000, N_FEATURES, generator=torch.Generator().manual_seed(0),
                            dtype=torch.float64)
    _, gradients = bb.gradient(x + z)
    mean, se = gradients.mean(0).numpy(), gradients.std(0).numpy() / np.sqrt(200_000)
    assert np.all(np.abs(mean - truth[2]) < 4 * se)


@pytest.mark.parametrize("n", [100, 1000])
def test_smoothgrad_error_is_honest_on_a_saturating_network(saturating, n):
    bb, X, truth = saturating

    def tilted(x, n, seed):
        result = smoothgrad_estimate(bb.gradient, x, n, SIGMA,
                                     torch.Generator().manual_seed(seed))
        assert result.sampler == "tilted" and result.n_queries == n + 1
        return result.mean, result.se

    def plain(x, n, seed):  # what px.SmoothGrad reports today: mean and S / sqrt(n)
        z = SIGMA * torch.randn(n, N_FEATURES, generator=torch.Generator().manual_seed(seed),
                                dtype=torch.float64)
        gradients = bb.gradient(torch.as_tensor(x) + z)[1].numpy()
        return gradients.mean(0), gradients.std(0, ddof=1) / np.sqrt(n)

    z2, error = _calibration(tilted, X, truth, n)
    plain_z2, plain_error = _calibration(plain, X, truth, n)
    assert 0.7 <= z2 <= 1.4
    assert error < plain_error / 3           # measured: 0.044 vs 0.43 (n=100), 0.014 vs 0.12
    if n == 100:
        assert plain_z2 > 5                  # the plain normal error this replaces (z^2 ~ 40)


@pytest.mark.parametrize("n", [100, 1000])
def test_stein_estimate_from_function_values_is_honest(saturating, n):
    bb, X, truth = saturating

    def stein(x, n, seed):
        result = stein_gradient_estimate(bb, x, n, SIGMA, torch.Generator().manual_seed(seed))
        assert result.sampler == "tilted" and result.gradients is None
        assert result.n_queries == n + 1 - (n - N_FEATURES) % 2
        return result.mean, result.se

    def clime(x, n, seed):
        e = px.CLIME(bb, estimator="least_squares", sigma=SIGMA, seed=seed).explain(
            x, n_samples=n)
        return e.mean, e.sd

    z2, error = _calibration(stein, X, truth, n)
    _, clime_error = _calibration(clime, X, truth, n)
    assert 0.7 <= z2 <= 1.4
    assert error < clime_error / 3           # measured: 0.11 vs 0.71 (n=100), 0.025 vs 0.22


def test_linear_logit_is_sampled_almost_exactly():
    """For logistic regression the tilted proposal matches the integrand: the terms are
    nearly constant, the estimate is far more precise than plain sampling, and still
    covers the exact answer (logistic_smoothgrad)."""
    w, bias = np.array([3.0, -2.0, 1.0, 0.5]), -6.0
    weights = torch.as_tensor(w)
    bb = px.BlackBox(lambda t: t @ weights + bias, output="logits", input_type="torch",
                     n_features=4)
    x = np.array([-0.5, 0.4, 0.1, 0.0])
    exact = logistic_smoothgrad(w, bias, x, 0.8)
    z2 = []
    for seed in range(20):
        result = smoothgrad_estimate(bb.gradient, x, 200, 0.8, torch.Generator().manual_seed(seed))
        z2.append(((result.mean - exact) / result.se) ** 2)
        assert np.all(result.se < 0.05 * np.abs(exact))
    assert 0.5 < np.mean(z2) < 1.6


def test_falls_back_to_plain_antithetic_draws_for_regression_outputs():
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    bb = px.BlackBox(lambda t: torch.sin(t @ weights), task="regression",
                     input_type="torch", n_features=3)
    x = np.array([0.2, 0.1, -0.3])
    g = torch.Generator().manual_seed(0)
    result = smoothgrad_estimate(bb.gradient, x, 400, 0.3, g, output="value")
    stein = stein_gradient_estimate(bb, x, 400, 0.3, torch.Generator().manual_seed(0),
                                    output="value")
    # E[cos(w.(x+z))] w = cos(w.x) exp(-sigma^2 |w|^2 / 2) w
    exact = np.cos(x @ weights.numpy()) * np.exp(-0.5 * 0.09 * 5.25) * weights.numpy()
    for r in (result, stein):
        assert r.sampler == "gaussian" and np.all(r.weights.numpy() == 1.0)
        assert np.all(np.abs(r.mean - exact) < 4.5 * r.se)
        half = r.z.shape[0] // 2
        assert torch.equal(r.z[:half], -r.z[half:])               # antithetic pairs


def test_same_seed_same_numbers_and_input_checks(saturating):
    bb, X, _ = saturating
    a = smoothgrad_estimate(bb.gradient, X[0], 100, SIGMA, torch.Generator().manual_seed(5))
    b = smoothgrad_estimate(bb.gradient, X[0], 100, SIGMA, torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.se, b.se)
    with pytest.raises(ValueError, match="n_samples"):
        smoothgrad_estimate(bb.gradient, X[0], 3, SIGMA, torch.Generator())
    with pytest.raises(ValueError, match="sigma"):
        stein_gradient_estimate(bb, X[0], 100, -1.0, torch.Generator())
    with pytest.raises(ValueError, match="output"):
        stein_gradient_estimate(bb, X[0], 100, SIGMA, torch.Generator(), output="logit")
    with pytest.raises(ValueError, match="n_pilot"):
        stein_gradient_estimate(bb, X[0], 100, SIGMA, torch.Generator(), n_pilot=7)
    with pytest.raises(ValueError, match="shape"):
        smoothgrad_estimate(bb.gradient, X[:2], 100, SIGMA, torch.Generator())


def test_a_probability_that_rounds_to_one_falls_back_and_says_so():
    model = LogisticRegression().fit(np.array([[-1.0], [1.0]]), [0, 1])
    del model
    bb = px.BlackBox(lambda t: 200.0 * t.sum(-1), output="logits", input_type="torch",
                     n_features=2)
    result = stein_gradient_estimate(bb, np.array([1.0, 1.0]), 100, 0.1,
                                     torch.Generator().manual_seed(0))
    assert result.sampler == "gaussian"
    np.testing.assert_allclose(result.mean, 0.0, atol=1e-12)
