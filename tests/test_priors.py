import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine

from probex.priors import (
    CustomPrior,
    Horseshoe,
    Laplace,
    Normal,
    NormalInverseGamma,
    NumPyroPrior,
    StudentT,
    as_prior,
    cast_distribution,
)


def _trace(prior, batch=2, d=4):
    like = torch.zeros(batch, dtype=torch.float64)

    def model():
        with pyro.plate("instances", batch, dim=-1):
            sigma = pyro.sample("noise_scale", prior.noise_distribution(like))
            prior.sample_coefficients(d, sigma)

    return poutine.trace(model).get_trace()


@pytest.mark.parametrize("prior", [NormalInverseGamma(), Laplace(0.1), Horseshoe(0.1),
                                   Horseshoe(0.1, slab_scale=None), StudentT(3.0, 0.2),
                                   Normal(0.5), CustomPrior(dist.StudentT(3.0, 0.0, 0.2))])
def test_every_prior_exposes_attribution_with_batch_and_feature_shape(prior):
    trace = _trace(prior)
    value = trace.nodes["attribution"]["value"]
    assert value.shape == (2, 4) and value.dtype == torch.float64
    assert trace.nodes["noise_scale"]["value"].shape == (2,)
    trace.log_prob_sum()  # finite joint density
    assert torch.isfinite(trace.log_prob_sum())


def test_horseshoe_is_non_centred():
    trace = _trace(Horseshoe(0.1))
    raw = trace.nodes["attribution_raw"]["value"]
    tau = trace.nodes["global_scale"]["value"].unsqueeze(-1)
    lam = trace.nodes["local_scale"]["value"]
    c2 = trace.nodes["slab_variance"]["value"].unsqueeze(-1)
    scale = (c2 * lam**2 / (c2 + tau**2 * lam**2)).sqrt() * tau
    torch.testing.assert_close(trace.nodes["attribution"]["value"], raw * scale)


def test_nig_noise_prior_is_inverse_gamma_on_the_variance():
    like = torch.zeros((), dtype=torch.float64)
    noise = NormalInverseGamma(noise_shape=3.0, noise_rate=2.0).noise_distribution(like)
    sigma = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    # change of variables: p(sigma) = IG(sigma^2) * 2 sigma
    expected = dist.InverseGamma(torch.tensor(3.0, dtype=torch.float64),
                                 torch.tensor(2.0, dtype=torch.float64)).log_prob(sigma**2) \
        + torch.log(2 * sigma)
    torch.testing.assert_close(noise.log_prob(sigma), expected)


def test_user_distributions_are_cast_to_the_model_dtype():
    like = torch.zeros(3, dtype=torch.float64)
    cast = cast_distribution(dist.Laplace(0.0, 0.1), like)
    assert cast.loc.dtype == torch.float64 and float(cast.scale) == pytest.approx(0.1)
    half = cast_distribution(dist.HalfCauchy(1.0), like)
    assert half.sample().dtype == torch.float64
    wrapped = cast_distribution(dist.Normal(torch.zeros(4), 1.0).to_event(1), like)
    assert wrapped.event_shape == (4,) and wrapped.sample().dtype == torch.float64


def test_as_prior_and_errors():
    assert isinstance(as_prior(None), NormalInverseGamma) and as_prior(None).conjugate
    assert isinstance(as_prior("horseshoe"), Horseshoe)
    assert isinstance(as_prior(dist.Normal(0.0, 1.0)), CustomPrior)
    with pytest.raises(ValueError, match="unknown prior='ridge'"):
        as_prior("ridge")
    with pytest.raises(TypeError, match="prior must be None"):
        as_prior(3.0)
    with pytest.raises(ValueError, match="must be positive"):
        Laplace(scale=-1.0)
    with pytest.raises(ValueError, match=r"event shape \(3,\), expected \(\) or \(4,\)"):
        _trace(CustomPrior(dist.Normal(torch.zeros(3), 1.0).to_event(1)))


@pytest.mark.parametrize("prior", [StudentT(3.0, 0.2), Normal(0.5)], ids=lambda p: p.name)
def test_scale_mixture_priors_give_their_marginal_through_the_scales(prior):
    """s_j from sample_coefficient_scales times N(0, 1) has the prior's marginal law
    (Student-t: quantiles of 40,000 draws within Monte Carlo error of scipy's)."""
    from scipy import stats

    like = torch.zeros(40_000, dtype=torch.float64)
    with poutine.trace(), pyro.plate("instances", like.shape[0], dim=-1):
        scales = prior.sample_coefficient_scales(1, like)[:, 0]
    draws = (scales * torch.randn(like.shape, generator=torch.Generator().manual_seed(1),
                                  dtype=torch.float64)).numpy()
    law = (stats.t(prior.df, scale=prior.scale) if isinstance(prior, StudentT)
           else stats.norm(scale=prior.scale))
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        # sd of an empirical quantile: sqrt(q (1 - q) / n) / density at the quantile
        se = np.sqrt(q * (1 - q) / like.shape[0]) / law.pdf(law.ppf(q))
        assert abs(np.quantile(draws, q) - law.ppf(q)) < 5 * se


def test_named_and_numpyro_priors():
    import numpyro.distributions as nd

    assert isinstance(as_prior("student_t"), StudentT) and as_prior("student_t").scale_mixture
    assert isinstance(as_prior("normal"), Normal) and not as_prior("normal").conjugate
    prior = as_prior(nd.Laplace(0.0, 0.1))
    assert isinstance(prior, NumPyroPrior) and not prior.scale_mixture
    with pytest.raises(TypeError, match="only the NumPyro backend"):
        _trace(prior)
    with pytest.raises(TypeError, match="numpyro.distributions.Distribution"):
        NumPyroPrior(dist.Laplace(0.0, 0.1))
    with pytest.raises(ValueError, match="df and scale must be positive"):
        StudentT(df=0.0)
