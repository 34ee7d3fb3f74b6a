"""The Bayesian linear surrogate as a NumPyro model of one instance (the NumPyro backend).

The same generative model as :func:`probex.models.surrogate.bayesian_linear_surrogate`
(joint) and :func:`probex.models.collapsed_surrogate.collapsed_linear_surrogate`
(coefficients integrated out for scale-mixture priors), written from the sufficient
statistics (G = Z^T W Z, h = Z^T W y, q = y^T W y) of one instance:

    joint:     log p = log p(sigma) + log p(phi | sigma) - n/2 log(2 pi sigma^2)
                       + 1/2 sum_i log w_i - (q - 2 phi^T h + phi^T G phi) / (2 sigma^2)
                       + 1/2 log(2 pi sigma^2 / W)                 (flat intercept)
    collapsed: the same with phi integrated against N(0, diag(s)^2): the centred-rows term
               becomes -n/2 log(2 pi sigma^2) + 1/2 sum log w - q / (2 sigma^2)
               + 1/2 |u|^2 - sum_j log L_jj, with L L^T = I + S G S / sigma^2 and
               u = L^{-1} S h / sigma^2 (see :mod:`probex.models.collapsed_surrogate`).

Why a small JAX port rather than pyro-api's backend switch: the Pyro model's likelihood
is torch linear algebra (Cholesky, triangular solves) that pyro-api does not abstract,
its priors build torch distributions (dtype casting, PowerTransform), and the compiled
sampler wants a model of ONE instance that it vmaps (each instance its own chains and
adaptation), while the Pyro model is one joint model over a plate of B instances. The
port is short, keeps the Pyro model's site names, supports and parametrisation (so the
unconstrained spaces coincide), and the tests check that both give the same posterior.

Shapes, per instance: sites ``noise_scale`` (), ``attribution`` (d,) (joint) or the
deterministic ``coefficient_scale`` (d,) (collapsed), plus the prior's own sites
(horseshoe ``global_scale`` (), ``local_scale`` (d,), ``slab_variance`` (),
``attribution_raw`` (d,); Student-t ``coefficient_variance`` (d,) when collapsed).
"""

from __future__ import annotations

import math
from functools import partial

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as nd
from jax.scipy.linalg import solve_triangular

from probex.models.numpyro_program import NumPyroProgram
from probex.models.surrogate import SufficientStatistics
from probex.prior_base import Prior, is_numpyro_distribution
from probex.prior_families import Horseshoe, Laplace, Normal, NormalInverseGamma, StudentT
from probex.priors import NumPyroPrior

__all__ = ["surrogate_program", "statistics_arrays", "gaussian_log_likelihood",
           "collapsed_log_likelihood"]


def statistics_arrays(stats: SufficientStatistics) -> dict[str, np.ndarray]:
    """The sufficient statistics of B instances as float64 numpy arrays, (B, ...) each."""
    arrays = {"gram": stats.gram, "cross": stats.cross, "sum_squares": stats.sum_squares,
              "sum_log_weights": stats.sum_log_weights, "weight_sum": stats.weight_sum}
    out = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in arrays.items()}
    out["n_observations"] = np.full(stats.n_instances, float(stats.n_observations))
    return out


def gaussian_log_likelihood(data: dict, phi, sigma):
    """sum_i log N(y_i | phi^T z_i, sigma^2 / w_i) of one instance's centred rows."""
    residual = data["sum_squares"] - 2 * phi @ data["cross"] + phi @ data["gram"] @ phi
    residual = jnp.maximum(residual, 0.0)
    return (-0.5 * data["n_observations"] * (math.log(2 * math.pi) + 2 * jnp.log(sigma))
            + 0.5 * data["sum_log_weights"] - 0.5 * residual / sigma**2)


def collapsed_log_likelihood(data: dict, scales, sigma):
    """log p(centred y | s, sigma) of one instance with phi ~ N(0, diag(s)^2) integrated."""
    variance = sigma**2
    d = scales.shape[-1]
    matrix = jnp.eye(d) + jnp.outer(scales, scales) * data["gram"] / variance
    chol = jnp.linalg.cholesky(matrix)
    u = solve_triangular(chol, scales * data["cross"] / variance, lower=True)
    return (-0.5 * data["n_observations"] * (math.log(2 * math.pi) + 2 * jnp.log(sigma))
            + 0.5 * data["sum_log_weights"] - 0.5 * data["sum_squares"] / variance
            + 0.5 * jnp.sum(u**2) - jnp.sum(jnp.log(jnp.diagonal(chol))))


def _intercept_log_factor(data: dict, sigma):
    return 0.5 * (math.log(2 * math.pi) + 2 * jnp.log(sigma) - jnp.log(data["weight_sum"]))


# ---------------------------------------------------------------- priors, one instance
def _noise(user_noise, hyper):
    if user_noise is not None:
        return user_noise
    variance = nd.InverseGamma(hyper["noise_shape"], hyper["noise_rate"])
    return nd.TransformedDistribution(variance, nd.transforms.PowerTransform(0.5))


def _horseshoe_scales(slab: bool, d: int, hyper):
    tau = numpyro.sample("global_scale", nd.HalfCauchy(hyper["global_scale"]))
    lam = numpyro.sample("local_scale", nd.HalfCauchy(jnp.ones(d)).to_event(1))
    lam2 = lam**2
    if slab:
        c2 = numpyro.sample("slab_variance", nd.InverseGamma(
            hyper["slab_df"] / 2, hyper["slab_df"] * hyper["slab_scale"] ** 2 / 2))
        lam2 = c2 * lam2 / (c2 + tau**2 * lam2)
    return jnp.sqrt(tau**2 * lam2)


def _coefficient_scales(family: str, static: tuple, d: int, sigma, hyper):
    """For scale mixtures: register the prior's scale sites, return s (d,)."""
    if family == "normal_inverse_gamma":
        return sigma * hyper["scale"] * jnp.ones(d)
    if family == "normal":
        return hyper["scale"] * jnp.ones(d)
    if family == "student_t":
        variance = numpyro.sample("coefficient_variance", nd.InverseGamma(
            hyper["df"] / 2 * jnp.ones(d), hyper["df"] * hyper["scale"] ** 2 / 2).to_event(1))
        return jnp.sqrt(variance)
    if family == "horseshoe":
        return _horseshoe_scales(static[0], d, hyper)
    raise ValueError(f"{family} is not a scale mixture of normals")


def _coefficients(family: str, static: tuple, d: int, sigma, hyper):
    """Register the coefficient sites (``attribution`` among them); return phi (d,)."""
    zeros = jnp.zeros(d)
    if family == "normal_inverse_gamma":
        prior = nd.Normal(zeros, sigma * hyper["scale"])
    elif family == "normal":
        prior = nd.Normal(zeros, hyper["scale"])
    elif family == "laplace":
        prior = nd.Laplace(zeros, hyper["scale"])
    elif family == "student_t":
        prior = nd.StudentT(hyper["df"], zeros, hyper["scale"])
    elif family == "horseshoe":
        scales = _horseshoe_scales(static[0], d, hyper)
        raw = numpyro.sample("attribution_raw", nd.Normal(zeros, 1.0).to_event(1))
        return numpyro.deterministic("attribution", raw * scales)
    else:  # a user's NumPyro distribution
        prior = static[0]
        if tuple(prior.event_shape) == ():
            prior = prior.expand((d,)).to_event(1)
        elif tuple(prior.event_shape) != (d,) or tuple(prior.batch_shape) != ():
            raise ValueError(f"the coefficient prior has batch shape "
                             f"{tuple(prior.batch_shape)} and event shape "
                             f"{tuple(prior.event_shape)}; expected () and () or ({d},)")
        return numpyro.sample("attribution", prior)
    return numpyro.sample("attribution", prior.to_event(1))


def _surrogate_model(data, hyper, *, family, static, user_noise, collapsed):
    """NumPyro model of one instance (module docstring); ``data`` as statistics_arrays."""
    d = data["cross"].shape[-1]
    sigma = numpyro.sample("noise_scale", _noise(user_noise, hyper))
    intercept = _intercept_log_factor(data, sigma)
    if collapsed:
        scales = _coefficient_scales(family, static, d, sigma, hyper)
        scales = numpyro.deterministic("coefficient_scale", scales)
        numpyro.factor("marginal_likelihood",
                       collapsed_log_likelihood(data, scales, sigma) + intercept)
    else:
        phi = _coefficients(family, static, d, sigma, hyper)
        numpyro.factor("likelihood", gaussian_log_likelihood(data, phi, sigma))
        numpyro.factor("intercept_marginal", intercept)


def _family(prior: Prior):
    """(family, static structure, hyperparameters) of a built-in prior, else ``None``.

    Exact types only: a user's subclass may override the Pyro sampling methods.
    """
    kind = type(prior)
    if kind is NormalInverseGamma:
        return "normal_inverse_gamma", (), {"scale": prior.scale}
    if kind is Laplace:
        return "laplace", (), {"scale": prior.scale}
    if kind is Normal:
        return "normal", (), {"scale": prior.scale}
    if kind is StudentT:
        return "student_t", (), {"df": prior.df, "scale": prior.scale}
    if kind is Horseshoe:
        slab = prior.slab_scale is not None
        hyper = {"global_scale": prior.global_scale}
        if slab:
            hyper.update(slab_scale=prior.slab_scale, slab_df=prior.slab_df)
        return "horseshoe", (slab,), hyper
    if kind is NumPyroPrior:
        return "numpyro", (prior.coefficients,), {}
    return None


def surrogate_program(stats: SufficientStatistics, prior: Prior, collapsed: bool
                      ) -> NumPyroProgram | None:
    """The NumPyro program of the surrogate for ``prior``, or ``None`` when the prior has
    no NumPyro twin (a user's Pyro distribution or Prior subclass: sample it with Pyro).

    ``collapsed`` integrates the coefficients out (scale-mixture priors only).
    """
    found = _family(prior)
    if found is None:
        return None
    family, static, hyper = found
    noise = prior.noise
    if noise is not None and not is_numpyro_distribution(noise):
        return None  # a Pyro noise distribution
    if collapsed and not prior.scale_mixture:
        raise ValueError(f"{prior!r} is not a scale mixture of normals: its coefficients "
                         "cannot be integrated out; use the joint model")
    if noise is None:
        hyper = {**hyper, "noise_shape": prior.noise_shape, "noise_rate": prior.noise_rate}
    model = partial(_surrogate_model, family=family, static=static, user_noise=noise,
                    collapsed=bool(collapsed))
    key = ("surrogate", family, static, noise, bool(collapsed))
    return NumPyroProgram(model=model, key=key, data=statistics_arrays(stats),
                          hyper={k: float(v) for k, v in hyper.items()})
