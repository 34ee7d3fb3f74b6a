"""Pointwise log-likelihoods, replicated answers and prior draws of the linear surrogate.

The Bayesian linear surrogate (:mod:`probex.models.surrogate`, Slack et al., 2021, Eq. 1)
says of instance k's perturbation i, with interpretable row z_i, black-box answer y_i and
locality weight w_i,

    y_i ~ Normal(b + phi^T z_i, sigma^2 / w_i),

so a row far from the instance (small w_i) is allowed a larger deviation. At posterior
draws (b, phi, sigma) (the intercept b is drawn after the fact from its exact
conditional, :func:`probex.models.surrogate.sample_intercept`) this module gives the
groups ArviZ's model checking needs:

- :func:`pointwise_log_likelihood`: log N(y_i | b + phi^T z_i, sigma^2 / w_i) per draw
  and perturbation (``az.loo``, ``az.waic``, ``az.compare``); summed over i it is the
  model's log-likelihood at that draw;
- :func:`replicated_answers`: y_rep_i ~ N(b + phi^T z_i, sigma^2 / w_i) per draw
  (posterior predictive, ``az.plot_ppc``);
- :func:`prior_draws` and :func:`prior_replicated_answers`: draws of (sigma, phi) from
  the prior and the answers they predict (prior predictive). The intercept's prior is
  flat (improper), so its prior predictive does not exist; the replicated answers are
  centred at the observed weighted mean y_bar, i.e. b = y_bar - phi^T z_bar: what the
  prior predicts is how the answers vary over the neighbourhood, not their level.

Shapes: draws (chain, draw, B, ...) with B instances; data z (B, n, d), y and weights
(B, n). numpy in, numpy out; float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from probex.prior_base import Prior, is_numpyro_distribution
from probex.priors import NumPyroPrior

__all__ = ["pointwise_log_likelihood", "replicated_answers", "prior_draws",
           "prior_replicated_answers", "surrogate_mean", "PREDICTIVE_VALUES_MAX"]

_LOG_2PI = math.log(2 * math.pi)

#: values (draws x observations) a log_likelihood or posterior_predictive group holds
#: by default: 4M float64 = 32 MB (4 chains x 1000 draws x 1000 perturbations fit)
PREDICTIVE_VALUES_MAX = 2**22


def surrogate_mean(attribution: np.ndarray, intercept: np.ndarray, z: np.ndarray
                   ) -> np.ndarray:
    """b + phi^T z_i for every draw and perturbation: (chain, draw, B, n)."""
    mean = np.einsum("cdbj,bnj->cdbn", attribution, z, optimize=True)
    mean += intercept[..., None]
    return mean


def pointwise_log_likelihood(attribution: np.ndarray, intercept: np.ndarray,
                             noise_scale: np.ndarray, z: np.ndarray, y: np.ndarray,
                             weights: np.ndarray) -> np.ndarray:
    """log N(y_i | b + phi^T z_i, sigma^2 / w_i), (chain, draw, B, n).

    Args:
        attribution: phi, (chain, draw, B, d); intercept: b, (chain, draw, B);
            noise_scale: sigma, (chain, draw, B).
        z: (B, n, d); y, weights: (B, n), weights positive.
    """
    z, y, weights = (np.asarray(a, dtype=np.float64) for a in (z, y, weights))
    out = surrogate_mean(np.asarray(attribution, np.float64),
                         np.asarray(intercept, np.float64), z)
    out -= y                                                   # residual
    np.square(out, out=out)
    precision = weights / np.asarray(noise_scale, np.float64)[..., None] ** 2  # w / sigma^2
    out *= precision
    out -= np.log(precision)
    out += _LOG_2PI
    out *= -0.5
    return out


def replicated_answers(attribution: np.ndarray, intercept: np.ndarray,
                       noise_scale: np.ndarray, z: np.ndarray, weights: np.ndarray,
                       seeds) -> np.ndarray:
    """Posterior predictive answers y_rep ~ N(b + phi^T z_i, sigma^2 / w_i),
    (chain, draw, B, n); instance k's noise from ``numpy.random.default_rng(seeds[k])``,
    so an instance's replicates do not depend on its batch."""
    z, weights = np.asarray(z, np.float64), np.asarray(weights, np.float64)
    out = surrogate_mean(np.asarray(attribution, np.float64),
                         np.asarray(intercept, np.float64), z)
    _add_noise(out, np.asarray(noise_scale, np.float64), weights, seeds)
    return out


def _add_noise(out: np.ndarray, noise_scale: np.ndarray, weights: np.ndarray, seeds) -> None:
    """out[..., k, :] += sigma / sqrt(w) * N(0, 1), instance k from its own seed."""
    seeds = np.asarray(seeds).reshape(-1)
    chains, draws, n_instances, n = out.shape
    if len(seeds) != n_instances:
        raise ValueError(f"{len(seeds)} seeds for {n_instances} instances")
    for k, seed in enumerate(seeds):
        noise = np.random.default_rng(int(seed) % 2**63).standard_normal((chains, draws, n))
        noise *= noise_scale[:, :, k, None] / np.sqrt(weights[k])
        out[:, :, k] += noise


def prior_replicated_answers(attribution: np.ndarray, noise_scale: np.ndarray,
                             z: np.ndarray, y: np.ndarray, weights: np.ndarray, seeds
                             ) -> np.ndarray:
    """Prior predictive answers at the perturbations, (chain, draw, B, n): phi, sigma
    from the prior, the intercept set to y_bar - phi^T z_bar (module docstring)."""
    z, y, weights = (np.asarray(a, dtype=np.float64) for a in (z, y, weights))
    total = weights.sum(-1)
    z_mean = np.einsum("bn,bnj->bj", weights, z) / total[:, None]
    y_mean = (weights * y).sum(-1) / total
    attribution = np.asarray(attribution, np.float64)
    intercept = y_mean - np.einsum("cdbj,bj->cdb", attribution, z_mean)
    return replicated_answers(attribution, intercept, noise_scale, z, weights, seeds)


# ---------------------------------------------------------------------- prior draws
def prior_draws(prior: Prior, n_features: int, n_instances: int, n_chains: int,
                n_draws: int, seed: int) -> dict[str, np.ndarray]:
    """Draws of every site of the surrogate's prior (noise scale, coefficients, and the
    prior's own scale sites), (chain, draw, B, ...) each; no data, no queries.

    Pyro priors are sampled with Pyro (the same ``noise_distribution`` and
    ``sample_coefficients`` the model calls); a :class:`~probex.priors.NumPyroPrior` or a
    NumPyro noise distribution with NumPyro. Instances share the prior but get
    independent draws.
    """
    total = n_chains * n_draws * n_instances
    if isinstance(prior, NumPyroPrior) or is_numpyro_distribution(prior.noise):
        flat = _numpyro_prior_draws(prior, n_features, total, seed)
    else:
        flat = _pyro_prior_draws(prior, n_features, total, seed)
    return {name: value.reshape(n_chains, n_draws, n_instances, *value.shape[1:])
            for name, value in flat.items()}


def _pyro_prior_draws(prior: Prior, n_features: int, total: int, seed: int) -> dict:
    import pyro
    from pyro import poutine
    from pyro.poutine.util import site_is_subsample

    from probex.inference._runtime import seeded

    like = torch.zeros(total, dtype=torch.float64)

    def model():
        with pyro.plate("instances", total, dim=-1):
            sigma = pyro.sample("noise_scale", prior.noise_distribution(like=like))
            prior.sample_coefficients(n_features, sigma)

    with seeded(seed), torch.no_grad():
        trace = poutine.trace(model).get_trace()
    return {name: site["value"].detach().cpu().numpy().astype(np.float64)
            for name, site in trace.nodes.items()
            if site["type"] == "sample" and not site_is_subsample(site)
            and (not site["is_observed"] or site["infer"].get("_deterministic"))}


def _numpyro_prior_draws(prior: Prior, n_features: int, total: int, seed: int) -> dict:
    """The NumPyro twin of the joint model run forward on neutral data (identity Gram
    matrix, zero cross products): its likelihood factors are finite and ignored, so the
    sites are prior draws."""
    import jax
    from numpyro.infer import Predictive

    from probex.inference.numpyro_backend import _float64
    from probex.models.numpyro_surrogate import surrogate_program
    from probex.models.surrogate import SufficientStatistics

    d = int(n_features)
    ones = torch.ones(1, dtype=torch.float64)
    neutral = SufficientStatistics(gram=torch.eye(d, dtype=torch.float64)[None],
                                   cross=torch.zeros(1, d, dtype=torch.float64),
                                   sum_squares=ones, sum_log_weights=0 * ones,
                                   weight_sum=2 * ones, n_observations=2)
    program = surrogate_program(neutral, prior, collapsed=False)
    if program is None:
        raise TypeError(f"{prior!r} mixes Pyro and NumPyro distributions: no backend "
                        "can sample its prior")
    with _float64():
        data = {k: np.asarray(v)[0] for k, v in program.data.items()}
        draws = Predictive(program.model, num_samples=total)(
            jax.random.PRNGKey(int(seed) % 2**32), data, program.hyper)
        return {name: np.asarray(value, dtype=np.float64) for name, value in draws.items()}
