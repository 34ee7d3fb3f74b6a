"""Weighted least squares with the sandwich covariance: the fit itself, and coverage under
heteroscedastic, misspecified data where the textbook covariance is too narrow."""

import numpy as np
import pytest
import torch

from probex.inference.sandwich import weighted_least_squares


def test_coefficients_are_weighted_least_squares_with_batches():
    rng = np.random.default_rng(0)
    z, y, w = rng.normal(size=(3, 40, 4)), rng.normal(size=(3, 40)), rng.uniform(0.5, 2, (3, 40))
    fit = weighted_least_squares(torch.as_tensor(z), y, w)
    for b in range(3):
        A = np.c_[np.ones(40), z[b]] * np.sqrt(w[b])[:, None]
        beta = np.linalg.lstsq(A, y[b] * np.sqrt(w[b]), rcond=None)[0]
        np.testing.assert_allclose(fit.coef[b], beta[1:], rtol=1e-10)
        np.testing.assert_allclose(fit.intercept[b], beta[0], rtol=1e-10)
    assert fit.covariance.shape == (3, 4, 4) and fit.df == 35
    assert fit.interval().shape == (3, 4, 2)


def test_sandwich_covers_the_population_slope_of_a_misspecified_model():
    """y = z1^2 + z1 + heteroscedastic noise, z ~ N(0, I): the population slope is (1, 0).
    300 replications of n = 60: HC3 coverage within 3 binomial sd of 0.95 (or above),
    while the textbook covariance s^2 (A^T A)^-1 is visibly too narrow."""
    rng = np.random.default_rng(1)
    hits, textbook = [], []
    for _ in range(300):
        z = rng.normal(size=(60, 2))
        y = z[:, 0] ** 2 + z[:, 0] + 0.5 * np.abs(z[:, 0]) * rng.normal(size=60)
        fit = weighted_least_squares(z, y)
        iv = fit.interval(0.95)
        hits.append(iv[0, 0] <= 1.0 <= iv[0, 1])
        A = np.c_[np.ones(60), z]
        s2 = fit.residuals @ fit.residuals / fit.df
        se = np.sqrt(s2 * np.linalg.inv(A.T @ A)[1, 1])
        textbook.append(abs(fit.coef[0] - 1.0) < 2.0 * se)
    assert np.mean(hits) > 0.95 - 3 * np.sqrt(0.95 * 0.05 / 300)
    assert np.mean(textbook) < 0.9


def test_checks():
    z, y = np.zeros((5, 4)), np.zeros(5)
    with pytest.raises(ValueError, match="more rows"):
        weighted_least_squares(z, y)
    with pytest.raises(ValueError, match="kind"):
        weighted_least_squares(np.ones((9, 2)), np.ones(9), kind="HC2")
    with pytest.raises(ValueError, match="non-negative"):
        weighted_least_squares(np.ones((9, 2)), np.ones(9), -np.ones(9))
    with pytest.raises(ValueError, match="finite"):
        weighted_least_squares(np.full((9, 2), np.nan), np.ones(9))
