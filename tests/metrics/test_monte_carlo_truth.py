"""High-sample Monte Carlo truths: closed-form expectations and honest standard errors."""

import numpy as np
import pytest
import torch

import probex as px
from probex.metrics import mean_squared_z, smoothgrad_truth, surrogate_target_monte_carlo
from probex.perturb import GaussianPerturbation

AMPLITUDE = np.array([1.0, -2.0, 0.5])


def sine_gradient(X):
    return AMPLITUDE * np.cos(X)


def test_smoothgrad_truth_matches_the_gaussian_smoothing_closed_form():
    """E[a cos(x + z)] = a cos(x) exp(-sigma^2 / 2) for z ~ N(0, sigma^2). Over 20 seeds
    x 2 instances x 3 features (120 z-scores) the mean squared z is 1 +- 0.13 (sd of a
    chi-square_120 / 120); the band [0.6, 1.5] is 3 sd on each side."""
    x = np.array([[0.3, -1.0, 2.0], [1.5, 0.2, -0.7]])
    sigma = 0.8
    expected = AMPLITUDE * np.cos(x) * np.exp(-(sigma**2) / 2)
    estimates, errors = [], []
    for seed in range(20):
        truth = smoothgrad_truth(sine_gradient, x, sigma, n_samples=5000, chunk_size=3000,
                                 seed=seed)
        estimates.append(truth.mean)
        errors.append(truth.standard_error)
    assert truth.n_samples == 5000 and truth.n_evaluations == 10_000
    assert 0.6 < mean_squared_z(np.array(estimates), np.array(errors), expected) < 1.5
    # the error shrinks as 1 / sqrt(n)
    big = smoothgrad_truth(sine_gradient, x, sigma, n_samples=80_000, seed=0)
    np.testing.assert_allclose(big.standard_error * 4, np.mean(errors, 0), rtol=0.1)


def test_smoothgrad_truth_uses_a_blackbox_gradient():
    bb = px.BlackBox(lambda X: torch.sin(X) @ torch.as_tensor(AMPLITUDE), task="regression",
                     input_type="torch")
    x = np.array([0.3, -1.0, 2.0])
    by_blackbox = smoothgrad_truth(bb, x, 0.5, n_samples=2000, seed=1)
    by_callable = smoothgrad_truth(sine_gradient, x, 0.5, n_samples=2000, seed=1)
    np.testing.assert_allclose(by_blackbox.mean, by_callable.mean, atol=1e-12)
    assert by_blackbox.mean.shape == (3,) and bb.n_queries == 2000


def test_gaussian_surrogate_target_closed_form_and_error():
    """f = sum q_j x_j^2 under x' = x + s z, z ~ N(0, I), LIME weights (even in z): the
    squares are orthogonal to the odd regressors, so beta_j = 2 q_j x_j s_j exactly.
    Over 8 seeds x 2 instances x 3 coefficients the mean squared z (t with 15 df, sd =
    se sqrt(15 / 13)) lies within 1 +- 3 sqrt(2 / 48)."""
    q = np.array([1.0, -0.5, 2.0])
    s = np.array([0.5, 1.0, 0.3])
    x = np.array([[0.4, -0.2, 1.0], [-1.0, 0.6, 0.1]])
    scheme = GaussianPerturbation(std=torch.as_tensor(s), kernel="lime")
    expected = 2 * q * x * s
    estimates, sds = [], []
    for seed in range(8):
        target = surrogate_target_monte_carlo(lambda X: (X**2) @ q, x, scheme, n_samples=8000,
                                              n_batches=16, chunk_size=4000, seed=seed)
        estimates.append(target.coef)
        sds.append(target.coef_se * np.sqrt(target.df / (target.df - 2)))
    assert target.df == 15 and target.n_evaluations == 16_000
    assert 1 - 3 * np.sqrt(2 / 48) < mean_squared_z(np.array(estimates), np.array(sds),
                                                    expected) < 1 + 3 * np.sqrt(2 / 48)


def test_linear_model_surrogate_target_is_exact():
    w = np.array([1.0, -3.0, 2.0])
    s = np.array([2.0, 0.5, 1.0])
    scheme = GaussianPerturbation(std=torch.as_tensor(s), kernel="lime")
    target = surrogate_target_monte_carlo(lambda X: X @ w + 1.0, np.ones(3), scheme,
                                          n_samples=1000, n_batches=4)
    np.testing.assert_allclose(target.coef, w * s, atol=1e-10)
    assert target.intercept == pytest.approx(w.sum() + 1.0, abs=1e-10)
    assert np.all(target.coef_se < 1e-10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma=0.0), "sigma"), (dict(sigma=1.0, n_samples=1), "n_samples"),
])
def test_smoothgrad_truth_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        smoothgrad_truth(sine_gradient, np.zeros(3), **kwargs)


def test_surrogate_target_needs_a_scheme():
    with pytest.raises(TypeError, match="perturbation"):
        surrogate_target_monte_carlo(lambda X: X.sum(1), np.zeros(3), object())
