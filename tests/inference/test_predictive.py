"""Pointwise log-likelihoods, replicated answers and prior draws of the linear surrogate
and of ReCalX's temperatures, each against an independent computation."""

from __future__ import annotations

from functools import partial

import numpy as np
import pyro
import pytest
import torch
from pyro import poutine
from scipy import stats

import probex as px
from probex.inference.predictive import (
    pointwise_log_likelihood,
    prior_draws,
    prior_replicated_answers,
    replicated_answers,
)
from probex.inference.temperature_predictive import (
    label_log_likelihood,
    replicated_labels,
    temperature_prior_draws,
)
from probex.models.calibration import temperature_model
from probex.models.surrogate import SufficientStatistics, center, gaussian_log_likelihood


@pytest.fixture
def data(rng):
    """Two instances, 40 weighted rows, 3 features, and (2 chains x 5 draws) of
    (phi, b, sigma)."""
    z = rng.normal(size=(2, 40, 3))
    weights = rng.uniform(0.05, 1.0, size=(2, 40))
    y = z @ np.array([1.0, -2.0, 0.5]) + 0.3 + rng.normal(size=(2, 40)) / np.sqrt(weights)
    phi = rng.normal(size=(2, 5, 2, 3))
    intercept = rng.normal(size=(2, 5, 2))
    sigma = rng.uniform(0.5, 2.0, size=(2, 5, 2))
    return z, y, weights, phi, intercept, sigma


def test_pointwise_log_likelihood_is_the_weighted_gaussian_of_each_row(data):
    z, y, weights, phi, intercept, sigma = data
    out = pointwise_log_likelihood(phi, intercept, sigma, z, y, weights)
    assert out.shape == (2, 5, 2, 40)
    mean = np.einsum("cdbj,bnj->cdbn", phi, z) + intercept[..., None]
    direct = stats.norm.logpdf(y, mean, sigma[..., None] / np.sqrt(weights))
    np.testing.assert_allclose(out, direct, rtol=1e-12)


def test_summed_log_likelihood_is_the_models_at_the_same_draw(data):
    """sum_i log N(y_i | b + phi^T z_i, sigma^2 / w_i) = the model's centred likelihood
    (from sufficient statistics) - W (b - y_bar + phi^T z_bar)^2 / (2 sigma^2)."""
    z, y, weights, phi, intercept, sigma = data
    total = pointwise_log_likelihood(phi, intercept, sigma, z, y, weights).sum(-1)
    centred = center(torch.as_tensor(z), torch.as_tensor(y), torch.as_tensor(weights))
    suff = SufficientStatistics.of(centred)
    model_part = gaussian_log_likelihood(suff, torch.as_tensor(phi),
                                         torch.as_tensor(sigma)).numpy()
    offset = (intercept - centred.y_mean.numpy()
              + np.einsum("cdbj,bj->cdb", phi, centred.z_mean.numpy()))
    expected = model_part - centred.weight_sum.numpy() * offset**2 / (2 * sigma**2)
    np.testing.assert_allclose(total, expected, rtol=1e-10)


def test_replicated_answers_have_the_models_mean_and_variance(rng):
    """4000 replicates of one draw: per-row z-scores of the mean and of the variance."""
    z = rng.normal(size=(1, 30, 2))
    weights = rng.uniform(0.1, 1.0, size=(1, 30))
    phi = np.broadcast_to([1.5, -0.5], (1, 4000, 1, 2))
    intercept, sigma = np.full((1, 4000, 1), 2.0), np.full((1, 4000, 1), 0.7)
    out = replicated_answers(phi, intercept, sigma, z, weights, seeds=[3])[0, :, 0]
    mean = 2.0 + z[0] @ np.array([1.5, -0.5])
    sd = 0.7 / np.sqrt(weights[0])
    z_mean = (out.mean(0) - mean) / (sd / np.sqrt(4000))
    z_var = (out.var(0, ddof=1) / sd**2 - 1) / np.sqrt(2 / 3999)
    assert np.mean(z_mean**2) < 2.0 and np.mean(z_var**2) < 2.0  # chi^2_30 / 30: 1 +- 0.26
    again = replicated_answers(phi, intercept, sigma, z, weights, seeds=[3])[0, :, 0]
    assert np.array_equal(out, again)


def test_prior_predictive_is_centred_at_the_weighted_mean(data):
    z, y, weights, phi, _, sigma = data
    tiny = np.full_like(sigma, 1e-9)  # no noise: the surrogate's line itself
    out = prior_replicated_answers(phi, tiny, z, y, weights, seeds=[0, 1])
    y_bar = (weights * y).sum(-1) / weights.sum(-1)
    # the weighted mean of a prior-predictive line is the observed weighted mean
    np.testing.assert_allclose((out * weights).sum(-1) / weights.sum(-1),
                               np.broadcast_to(y_bar, out.shape[:-1]), atol=1e-6)


@pytest.mark.parametrize("prior, check", [
    (px.priors.Laplace(0.3), lambda d: stats.kstest(d["attribution"].ravel(),
                                                    stats.laplace(0, 0.3).cdf).pvalue),
    (px.priors.NormalInverseGamma(scale=2.0), lambda d: stats.kstest(
        (d["attribution"] / d["noise_scale"][..., None]).ravel(),
        stats.norm(0, 2.0).cdf).pvalue),
])
def test_prior_draws_follow_the_prior(prior, check):
    draws = prior_draws(prior, n_features=3, n_instances=2, n_chains=2, n_draws=500, seed=0)
    assert draws["attribution"].shape == (2, 500, 2, 3)
    assert draws["noise_scale"].shape == (2, 500, 2)
    assert check(draws) > 1e-3
    same = prior_draws(prior, n_features=3, n_instances=2, n_chains=2, n_draws=500, seed=0)
    assert np.array_equal(draws["attribution"], same["attribution"])


def test_horseshoe_and_numpyro_priors_are_drawn_with_their_sites():
    import numpyro.distributions as nd

    horseshoe = prior_draws(px.priors.Horseshoe(), 4, 1, 1, 200, seed=0)
    assert {"global_scale", "local_scale", "attribution"} <= set(horseshoe)
    assert horseshoe["local_scale"].shape == (1, 200, 1, 4)
    draws = prior_draws(px.priors.NumPyroPrior(nd.Laplace(0.0, 0.5)), 4, 1, 2, 300, seed=0)
    assert draws["attribution"].shape == (2, 300, 1, 4)
    assert stats.kstest(draws["attribution"].ravel(), stats.laplace(0, 0.5).cdf).pvalue > 1e-3


# ---------------------------------------------------------------------- temperatures
@pytest.fixture
def calibration(rng):
    log_probs = torch.log_softmax(torch.as_tensor(rng.normal(size=(60, 3)) * 2), -1)
    labels = torch.as_tensor(rng.integers(0, 3, size=60))
    bins = torch.as_tensor(rng.integers(0, 4, size=60))
    temperature = np.exp(rng.normal(size=(2, 3, 4)) * 0.5)
    return log_probs, labels, bins, temperature


def test_label_log_likelihood_is_the_models_categorical(calibration):
    log_probs, labels, bins, temperature = calibration
    out = label_log_likelihood(log_probs, labels, bins, temperature)
    assert out.shape == (2, 3, 60)
    model = partial(temperature_model, log_probs, labels, bins, 4)
    for c in range(2):
        for d in range(3):
            value = torch.as_tensor(np.log(temperature[c, d]))
            trace = poutine.trace(poutine.condition(model, {"log_temperature": value})
                                  ).get_trace()
            site = trace.nodes["label"]
            np.testing.assert_allclose(out[c, d], site["fn"].log_prob(site["value"]).numpy(),
                                       rtol=1e-12)


def test_replicated_labels_follow_the_tempered_probabilities(calibration):
    log_probs, _, bins, temperature = calibration
    one = np.broadcast_to(temperature[:1, :1], (1, 6000, 4))
    out = replicated_labels(log_probs, bins, one, seed=0)[0]      # (6000, 60)
    temperature_of_row = torch.as_tensor(np.array(one[0, 0]))[bins]
    probs = torch.softmax(log_probs / temperature_of_row[:, None], -1).numpy()
    frequency = np.stack([(out == k).mean(0) for k in range(3)], -1)
    z = (frequency - probs) / np.sqrt(probs * (1 - probs) / 6000 + 1e-12)
    assert np.mean(z**2) < 1.5                                     # 180 cells: 1 +- 0.1


def test_temperature_prior_draws_for_each_kind_of_prior():
    walk = temperature_prior_draws(None, 5, 2, 400, seed=0)
    assert walk["temperature"].shape == (2, 400, 5)
    steps = np.diff(walk["log_temperature"], axis=-1).ravel()
    assert stats.kstest(steps, stats.norm(0, 0.5).cdf).pvalue > 1e-3   # the random walk
    np.testing.assert_allclose(walk["temperature"], np.exp(walk["log_temperature"]))

    def hierarchical(n_bins, like):
        scale = pyro.sample("spread", pyro.distributions.HalfNormal(like.new_tensor(1.0)))
        return pyro.sample("log_temperature", pyro.distributions.Normal(
            like.new_zeros(n_bins), scale).to_event(1))

    custom = temperature_prior_draws(hierarchical, 3, 1, 50, seed=1)
    assert custom["spread"].shape == (1, 50) and custom["log_temperature"].shape == (1, 50, 3)
