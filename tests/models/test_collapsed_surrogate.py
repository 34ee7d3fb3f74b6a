import math

import numpy as np
import pyro
import pytest
import torch
from pyro import poutine
from scipy import stats

from probex.models.collapsed_surrogate import (
    collapsed_linear_surrogate,
    collapsed_log_likelihood,
    conditional_moments,
    sample_coefficients_given_scales,
)
from probex.models.surrogate import SufficientStatistics, bayesian_linear_surrogate, center
from probex.priors import Horseshoe, Laplace, NormalInverseGamma


def _data(n=25, d=4, seed=0, batch=2):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, n, d, generator=g, dtype=torch.float64)
    w = torch.rand(batch, n, generator=g, dtype=torch.float64) + 0.2
    phi = torch.tensor([0.5, -1.0, 0.0, 0.2], dtype=torch.float64)[:d]
    y = 0.3 + z @ phi + 0.4 * torch.randn(batch, n, generator=g, dtype=torch.float64) / w.sqrt()
    return center(z, y, w)


def test_collapsed_likelihood_is_the_gaussian_marginal_of_the_centred_data():
    """int prod_i N(y_i | z_i phi, s^2/w_i) N(phi | 0, S^2) dphi
    = N(y | 0, s^2 W^-1 + Z S^2 Z^T)."""
    data = _data()
    stats_ = SufficientStatistics.of(data)
    scales = torch.tensor([[0.7, 0.1, 1e-4, 2.0], [0.3, 0.3, 0.3, 0.3]], dtype=torch.float64)
    sigma = torch.tensor([0.45, 1.3], dtype=torch.float64)
    value = collapsed_log_likelihood(stats_, scales, sigma)
    for b in range(2):
        Z, y, w = (t[b].numpy() for t in (data.design, data.response, data.weights))
        s, sg = scales[b].numpy(), float(sigma[b])
        cov = sg**2 * np.diag(1 / w) + (Z * s**2) @ Z.T
        expected = stats.multivariate_normal.logpdf(y, np.zeros(len(y)), cov)
        assert float(value[b]) == pytest.approx(expected, abs=1e-9)


def test_conditional_moments_and_draws():
    data = _data(batch=1)
    stats_ = SufficientStatistics.of(data)
    scales = torch.tensor([[0.7, 0.1, 0.05, 2.0]], dtype=torch.float64)
    sigma = torch.tensor([0.45], dtype=torch.float64)
    mean, cov = conditional_moments(stats_, scales, sigma)
    G, h = stats_.gram[0].numpy(), stats_.cross[0].numpy()
    precision = G / 0.45**2 + np.diag(1 / scales[0].numpy() ** 2)
    np.testing.assert_allclose(cov[0].numpy(), np.linalg.inv(precision), rtol=1e-9)
    np.testing.assert_allclose(mean[0].numpy(), np.linalg.solve(precision, h / 0.45**2),
                               rtol=1e-9)
    n = 100_000
    draws = sample_coefficients_given_scales(stats_, scales.expand(n, 1, 4), sigma.expand(n, 1),
                                             torch.Generator().manual_seed(0))[:, 0].numpy()
    sd = np.sqrt(np.diag(cov[0].numpy()))
    # 5 standard errors: sd / sqrt(n) for means, sd / sqrt(2n) for standard deviations
    assert np.all(np.abs(draws.mean(0) - mean[0].numpy()) < 5 * sd / math.sqrt(n))
    assert np.all(np.abs(draws.std(0) / sd - 1) < 5 / math.sqrt(2 * n))
    np.testing.assert_allclose(np.corrcoef(draws.T), cov[0].numpy() / np.outer(sd, sd),
                               atol=5 / math.sqrt(n))


def test_collapsed_model_equals_joint_model_with_coefficients_integrated():
    """For the NIG prior, log p(sigma, y) of the collapsed model equals the joint model's
    log p(sigma, phi, y) - log p(phi | sigma, y), at any phi."""
    data = _data(batch=1)
    prior = NormalInverseGamma(scale=0.8)
    sigma = torch.tensor([0.5], dtype=torch.float64)
    collapsed = poutine.trace(poutine.condition(collapsed_linear_surrogate,
                                                {"noise_scale": sigma})).get_trace(
        SufficientStatistics.of(data), prior)
    stats_ = SufficientStatistics.of(data)
    mean, cov = conditional_moments(stats_, torch.full((1, 4), 0.8 * 0.5, dtype=torch.float64),
                                    sigma)
    for phi in (mean, mean + 0.1, torch.zeros_like(mean)):
        joint = poutine.trace(poutine.condition(
            bayesian_linear_surrogate, {"noise_scale": sigma, "attribution": phi})).get_trace(
            stats_, prior)
        conditional = stats.multivariate_normal.logpdf(phi[0].numpy(), mean[0].numpy(),
                                                       cov[0].numpy())
        assert float(collapsed.log_prob_sum()) == pytest.approx(
            float(joint.log_prob_sum()) - conditional, abs=1e-8)


def test_horseshoe_scales_and_shapes_vectorize():
    stats_ = SufficientStatistics.of(_data(batch=3))
    with pyro.plate("draws", 5, dim=-2):
        trace = poutine.trace(collapsed_linear_surrogate).get_trace(stats_, Horseshoe())
    assert trace.nodes["coefficient_scale"]["value"].shape == (5, 3, 4)
    assert trace.nodes["marginal_likelihood"]["fn"].batch_shape == (5, 3)
    assert torch.isfinite(trace.log_prob_sum())


def test_non_scale_mixture_prior_is_refused():
    with pytest.raises(ValueError, match="not a scale mixture of normals"):
        collapsed_linear_surrogate(SufficientStatistics.of(_data()), Laplace(0.1))
