"""The tilted importance-sampling proposal: unbiased weights, bounded by 1 / alpha, exact
model means, stable logistic differences, seeding."""

import math

import numpy as np
import pytest
import torch
from scipy.special import expit

from probex.explainers.smoothgrad import logistic_smoothgrad
from probex.inference.tilted_gaussian import (
    LogitModel,
    TiltedGaussian,
    _log_abs_logistic_difference,
    log_logistic_density,
)

MODEL = LogitModel(8.0, np.array([3.0, -4.0, 0.0, 1.0]))


@pytest.mark.parametrize("integrand", ["gradient", "stein"])
def test_weights_reproduce_moments_of_the_target_gaussian(integrand):
    """E_q[w h(z)] = E_p[h(z)] for p = N(0, sigma^2 I): h = 1, z, z z^T, within 5 MC sd."""
    sigma = 0.7
    draws = TiltedGaussian(MODEL, sigma, 0.2, shift=np.array([0.0, 0.0, 0.5, 0.0]),
                           integrand=integrand).sample(40_000, torch.Generator().manual_seed(0))
    w, z = draws.weights.numpy(), draws.z.numpy()
    for h, expected in [(np.ones(len(w)), 1.0), (z[:, 0], 0.0), (z[:, 3], 0.0),
                        (z[:, 0] ** 2, sigma**2), (z[:, 2] ** 2, sigma**2),
                        (z[:, 0] * z[:, 1], 0.0)]:
        terms = w * h
        assert abs(terms.mean() - expected) < 5 * terms.std() / np.sqrt(len(w))
    assert w.max() <= 1.0 / (draws.strata == 0).mean() + 1e-9


def test_importance_sampled_gradient_mean_matches_the_exact_logistic_answer():
    sigma = 0.5
    draws = TiltedGaussian(MODEL, sigma).sample(4000, torch.Generator().manual_seed(1))
    logit = MODEL.offset + draws.z.numpy() @ MODEL.slope
    gradients = expit(logit) * expit(-logit)
    terms = draws.unit_terms(torch.as_tensor(draws.weights.numpy() * gradients)).numpy()
    exact = logistic_smoothgrad(MODEL.slope, MODEL.offset, np.zeros(4), sigma)
    np.testing.assert_allclose(MODEL.mean_gradient(sigma), exact, rtol=1e-7)  # two quadratures
    # the linear model holds exactly: terms almost constant, estimate to ~1e-2 relative
    assert abs(terms.mean() * MODEL.slope[0] - exact[0]) < 0.01 * abs(exact[0])


def test_logistic_helpers_are_stable():
    L = np.array([-800.0, -30.0, 0.0, 2.0, 40.0, 800.0])
    direct = np.log(expit(L[1:5]) * expit(-L[1:5]))
    np.testing.assert_allclose(log_logistic_density(L[1:5]), direct, rtol=1e-12)
    assert np.all(np.isfinite(log_logistic_density(L)))
    a, b = np.array([-3.0, 0.5, 4.0]), 1.5
    np.testing.assert_allclose(_log_abs_logistic_difference(a, b),
                               np.log(np.abs(expit(a) - expit(b))), rtol=1e-10)
    assert np.isfinite(_log_abs_logistic_difference(np.array([60.0]), 50.0)).all()


def test_models_from_gradient_and_differences():
    w = np.array([2.0, -1.0])
    f = float(expit(1.5))
    model = LogitModel.from_gradient(f, f * (1 - f) * w)
    assert model.offset == pytest.approx(1.5) and np.allclose(model.slope, w)
    assert not LogitModel.from_gradient(1.0, w).usable
    steps = expit(1.5 + 0.3 * np.eye(2) @ w)
    fd = LogitModel.from_differences(f, steps, np.eye(2), 0.3)
    np.testing.assert_allclose(fd.slope, w, rtol=1e-10)


def test_seeded_draws_and_checks():
    a = TiltedGaussian(MODEL, 0.5).sample(20, torch.Generator().manual_seed(3))
    b = TiltedGaussian(MODEL, 0.5).sample(20, torch.Generator().manual_seed(3))
    assert torch.equal(a.z, b.z) and a.z.shape == (40, 4)
    np.testing.assert_allclose(a.z[:20].numpy() @ MODEL.slope, a.z[20:].numpy() @ MODEL.slope,
                               atol=1e-12)
    with pytest.raises(ValueError, match="defensive"):
        TiltedGaussian(MODEL, 0.5, defensive=1.0)
    with pytest.raises(ValueError, match="slope"):
        TiltedGaussian(LogitModel(math.nan, np.ones(2)), 0.5)
    with pytest.raises(ValueError, match="integrand"):
        TiltedGaussian(MODEL, 0.5, integrand="hessian")
    with pytest.raises(ValueError, match="at least 4"):
        TiltedGaussian(MODEL, 0.5).sample(3, torch.Generator())
