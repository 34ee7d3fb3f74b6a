import math

import numpy as np
import pyro
import pytest
import torch
from pyro import poutine
from scipy import integrate, stats

from probex.models.surrogate import (
    SufficientStatistics,
    bayesian_linear_surrogate,
    center,
    gaussian_log_likelihood,
    sample_intercept,
)
from probex.priors import NormalInverseGamma


def _problem(n=30, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.rand(n, generator=g, dtype=torch.float64) + 0.2
    y = 0.7 + z @ torch.tensor([0.5, -1.0, 0.2], dtype=torch.float64) + 0.3 * torch.randn(
        n, generator=g, dtype=torch.float64) / w.sqrt()
    return z, y, w


def test_centering_uses_weighted_means():
    z, y, w = _problem()
    data = center(z, y, w)
    torch.testing.assert_close((w[:, None] * data.design[0]).sum(0), torch.zeros(3, dtype=z.dtype))
    torch.testing.assert_close((w * data.response[0]).sum(), torch.tensor(0.0, dtype=z.dtype))
    torch.testing.assert_close(data.y_mean[0], (w * y).sum() / w.sum())


def test_model_log_density_equals_intercept_integrated_numerically():
    """The centred likelihood plus the factor equals int prod N(y | b + z phi, s^2/w) db."""
    z, y, w = _problem()
    data = center(z, y, w)
    phi = torch.tensor([[0.4, -0.9, 0.1]], dtype=torch.float64)
    sigma = torch.tensor([0.35], dtype=torch.float64)
    conditioned = poutine.condition(bayesian_linear_surrogate,
                                    {"attribution": phi, "noise_scale": sigma})
    trace = poutine.trace(conditioned).get_trace(SufficientStatistics.of(data),
                                                 NormalInverseGamma())
    trace.compute_log_prob()
    model_loglik = float(trace.nodes["likelihood"]["log_prob_sum"]
                         + trace.nodes["intercept_marginal"]["log_prob_sum"])

    zn, yn, wn, phin, s = z.numpy(), y.numpy(), w.numpy(), phi[0].numpy(), float(sigma)

    def likelihood(b):
        return np.exp(stats.norm.logpdf(yn, b + zn @ phin, s / np.sqrt(wn)).sum() + 40.0)

    centre = float(data.y_mean[0] - data.z_mean[0] @ phi[0])
    value, _ = integrate.quad(likelihood, centre - 2, centre + 2, epsabs=0, epsrel=1e-10)
    assert model_loglik == pytest.approx(math.log(value) - 40.0, abs=1e-7)


def test_sample_intercept_moments():
    z, y, w = _problem()
    data = center(z, y, w)
    phi = torch.tensor([0.4, -0.9, 0.1], dtype=torch.float64).expand(200_000, 1, 3)
    sigma = torch.full((200_000, 1), 0.35, dtype=torch.float64)
    b = sample_intercept(data, phi, sigma, torch.Generator().manual_seed(0))[:, 0]
    mean = float(data.y_mean[0] - data.z_mean[0] @ phi[0, 0])
    sd = 0.35 / math.sqrt(float(w.sum()))
    # 5 standard errors of the sample mean / sample sd
    assert abs(float(b.mean()) - mean) < 5 * sd / math.sqrt(200_000)
    assert abs(float(b.std()) / sd - 1) < 5 / math.sqrt(2 * 200_000)


def test_model_shapes_vectorize_over_instances():
    z, y, w = _problem()
    data = center(torch.stack([z, z]), torch.stack([y, y + 1]), torch.stack([w, w]))
    with pyro.plate("draws", 5, dim=-2):
        trace = poutine.trace(bayesian_linear_surrogate).get_trace(
            SufficientStatistics.of(data), NormalInverseGamma())
    assert trace.nodes["attribution"]["value"].shape == (5, 2, 3)
    assert trace.nodes["noise_scale"]["value"].shape == (5, 2)


def test_center_rejects_bad_designs():
    z, y, w = _problem()
    with pytest.raises(ValueError, match="weights must all be positive"):
        center(z, y, torch.zeros_like(w))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        center(z, y[:-1], w)


def test_likelihood_from_sufficient_statistics_equals_the_row_wise_normal_density():
    z, y, w = _problem()
    data = center(torch.stack([z, 2 * z]), torch.stack([y, -y]), torch.stack([w, w.flip(0)]))
    phi = torch.tensor([[[0.4, -0.9, 0.1], [1.0, 0.0, -2.0]]], dtype=torch.float64).expand(
        4, 2, 3) * torch.linspace(0.5, 2, 4, dtype=torch.float64)[:, None, None]
    sigma = torch.tensor([0.35, 1.7], dtype=torch.float64).expand(4, 2)
    value = gaussian_log_likelihood(SufficientStatistics.of(data), phi, sigma)
    assert value.shape == (4, 2)
    for k in range(4):
        for b in range(2):
            rows = stats.norm.logpdf(data.response[b].numpy(),
                                     data.design[b].numpy() @ phi[k, b].numpy(),
                                     float(sigma[k, b]) / np.sqrt(data.weights[b].numpy()))
            assert float(value[k, b]) == pytest.approx(rows.sum(), rel=1e-12)
    with pytest.raises(TypeError, match="takes SufficientStatistics"):
        bayesian_linear_surrogate(data, NormalInverseGamma())
