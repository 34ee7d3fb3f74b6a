import math

import numpy as np
import pytest
import torch
from scipy import stats

from probex.inference import NormalInverseGammaPosterior


def _data(n=40, p=3, seed=0, batch=()):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(*batch, n, p, generator=g, dtype=torch.float64)
    w = torch.rand(*batch, n, generator=g, dtype=torch.float64) + 0.1
    y = X @ torch.tensor([1.0, -0.5, 0.0], dtype=torch.float64) + 0.4 * torch.randn(
        *batch, n, generator=g, dtype=torch.float64) / w.sqrt()
    return X, y, w


def _log_joint(beta, s2, X, y, w, prior):
    """log prior + log likelihood, evaluated directly from the model's definition."""
    m0, L0 = prior.mean.numpy(), prior.precision.numpy()
    a0, b0 = float(prior.shape), float(prior.rate)
    lp = stats.invgamma.logpdf(s2, a0, scale=b0)
    lp += stats.multivariate_normal.logpdf(beta, m0, s2 * np.linalg.inv(L0))
    lp += stats.norm.logpdf(y.numpy(), X.numpy() @ beta, np.sqrt(s2 / w.numpy())).sum()
    return lp


def _log_posterior(beta, s2, post):
    m, L = post.mean.numpy(), post.precision.numpy()
    return (stats.invgamma.logpdf(s2, float(post.shape), scale=float(post.rate))
            + stats.multivariate_normal.logpdf(beta, m, s2 * np.linalg.inv(L)))


def test_posterior_density_is_proportional_to_prior_times_likelihood():
    X, y, w = _data()
    prior = NormalInverseGammaPosterior.prior(3, scale=2.0, shape=2.0, rate=0.5)
    post = prior.update(X, y, w)
    rng = np.random.default_rng(0)
    points = [(rng.normal(size=3), rng.uniform(0.05, 1.0)) for _ in range(6)]
    joint = [_log_joint(b, s, X, y, w, prior) for b, s in points]
    posterior = [_log_posterior(b, s, post) for b, s in points]
    # log p(theta | y) = log p(theta, y) - log p(y): the differences must be one constant
    offsets = np.array(joint) - np.array(posterior)
    assert np.ptp(offsets) < 1e-8


def test_mean_is_weighted_ridge_and_marginals_are_student_t():
    X, y, w = _data()
    post = NormalInverseGammaPosterior.prior(3, scale=1.0).update(X, y, w)
    Xn, yn, wn = X.numpy(), y.numpy(), w.numpy()
    ridge = np.linalg.solve(Xn.T @ (wn[:, None] * Xn) + np.eye(3), Xn.T @ (wn * yn))
    np.testing.assert_allclose(post.mean.numpy(), ridge, rtol=1e-10)
    cov = np.linalg.inv(post.precision.numpy())
    a, b = float(post.shape), float(post.rate)
    scale = np.sqrt(b / a * np.diag(cov))
    np.testing.assert_allclose(post.marginal_scale.numpy(), scale, rtol=1e-10)
    sd = stats.t(df=2 * a, scale=scale).std()
    np.testing.assert_allclose(post.marginal_sd.numpy(), sd, rtol=1e-10)
    interval = post.interval(0.9)
    np.testing.assert_allclose(interval[:, 1], stats.t.ppf(0.95, 2 * a, ridge, scale), rtol=1e-10)


def test_sequential_updates_equal_one_update_and_marginalized_dof():
    X, y, w = _data(n=60)
    prior = NormalInverseGammaPosterior.prior(3)
    once = prior.update(X, y, w)
    twice = prior.update(X[:25], y[:25], w[:25]).update(X[25:], y[25:], w[25:])
    for a, b in [(once.mean, twice.mean), (once.precision, twice.precision),
                 (once.shape, twice.shape), (once.rate, twice.rate)]:
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert float(prior.update(X, y, w, n_marginalized=1).shape) == float(once.shape) - 0.5


def test_batched_update_matches_per_instance():
    X, y, w = _data(batch=(4,))
    batched = NormalInverseGammaPosterior.prior(3, batch_shape=(4,)).update(X, y, w)
    for i in range(4):
        single = NormalInverseGammaPosterior.prior(3).update(X[i], y[i], w[i])
        torch.testing.assert_close(batched.mean[i], single.mean)
        torch.testing.assert_close(batched.rate[i], single.rate)


def test_draws_match_closed_form_moments():
    X, y, w = _data(n=15)
    post = NormalInverseGammaPosterior.prior(3).update(X, y, w)
    n = 100_000
    sigma, beta = post.sample(n, seed=0)
    # standard errors: sd/sqrt(n) for means, ~sd*sqrt((kurtosis-1)/(4n)) for sds; 5 se margin
    se_mean = post.marginal_sd.numpy() / math.sqrt(n)
    assert np.all(np.abs(beta.mean(0).numpy() - post.mean.numpy()) < 5 * se_mean)
    np.testing.assert_allclose(beta.std(0).numpy(), post.marginal_sd.numpy(), rtol=0.02)
    np.testing.assert_allclose(float((sigma**2).mean()), float(post.noise_variance_mean),
                               rtol=0.02)
    assert torch.equal(post.sample(10, seed=3)[1], post.sample(10, seed=3)[1])
    assert not torch.equal(post.sample(10, seed=3)[1], post.sample(10, seed=4)[1])


def test_interval_rejects_bad_probability():
    post = NormalInverseGammaPosterior.prior(2)
    with pytest.raises(ValueError, match="prob must be in"):
        post.interval(1.5)
