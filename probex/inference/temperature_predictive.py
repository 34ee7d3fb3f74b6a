"""Pointwise log-likelihoods, replicated labels and prior draws of ReCalX's temperatures.

The model (:mod:`probex.models.calibration`) says of calibration row i, with the
uncalibrated model's log-probabilities s_i (k,), level bin b_i and true label y_i,

    y_i ~ Categorical(softmax(s_i / T_{b_i})),

so at draws of the per-bin temperatures T (chain, draw, B):

- :func:`label_log_likelihood`: log softmax(s_i / T_{b_i})[y_i], one value per draw and
  row (``az.loo`` over calibration rows);
- :func:`replicated_labels`: y_rep_i ~ Categorical(softmax(s_i / T_{b_i})) per draw
  (posterior or prior predictive, by the Gumbel-max trick);
- :func:`temperature_prior_draws`: draws of the log-temperature prior (the default
  random walk, a Pyro or NumPyro distribution, or a callable Pyro prior with its own
  sites), no data needed.

Shapes: ``log_probs`` (N, k), ``labels`` and ``bins`` (N,); draws (chain, draw, B).
Work is done in chunks of draws so that memory stays near that of the result.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import logsumexp

from probex.prior_base import is_numpyro_distribution

__all__ = ["label_log_likelihood", "replicated_labels", "temperature_prior_draws"]

_CHUNK_VALUES = 2**24  # draws x rows x classes handled at once


def _chunks(n_draws: int, per_draw: int):
    step = max(1, _CHUNK_VALUES // max(per_draw, 1))
    for start in range(0, n_draws, step):
        yield slice(start, min(n_draws, start + step))


def label_log_likelihood(log_probs, labels, bins, temperature) -> np.ndarray:
    """log p(y_i | T) = log softmax(s_i / T_{b_i})[y_i], (chain, draw, N)."""
    s = np.asarray(log_probs, dtype=np.float64)
    labels, bins = np.asarray(labels, dtype=np.int64), np.asarray(bins, dtype=np.int64)
    temperature = np.asarray(temperature, dtype=np.float64)
    chains, draws = temperature.shape[:2]
    flat = temperature.reshape(chains * draws, -1)[:, bins]          # (S, N)
    out = np.empty(flat.shape)
    chosen = s[np.arange(len(labels)), labels]                       # (N,)
    for part in _chunks(len(flat), s.size):
        scaled = s[None] / flat[part, :, None]                       # (s, N, k)
        out[part] = chosen / flat[part] - logsumexp(scaled, axis=-1)
    return out.reshape(chains, draws, -1)


def replicated_labels(log_probs, bins, temperature, seed: int) -> np.ndarray:
    """Labels drawn from Categorical(softmax(s_i / T_{b_i})) for every draw,
    (chain, draw, N), integers (the smallest dtype that holds the classes)."""
    s = np.asarray(log_probs, dtype=np.float64)
    bins = np.asarray(bins, dtype=np.int64)
    temperature = np.asarray(temperature, dtype=np.float64)
    chains, draws = temperature.shape[:2]
    flat = temperature.reshape(chains * draws, -1)[:, bins]
    dtype = np.result_type(np.int8, np.min_scalar_type(-s.shape[-1]))  # signed: ArviZ
    out = np.empty(flat.shape, dtype=dtype)
    rng = np.random.default_rng(int(seed) % 2**63)
    for part in _chunks(len(flat), s.size):
        scaled = s[None] / flat[part, :, None]
        scaled += rng.gumbel(size=scaled.shape)
        out[part] = scaled.argmax(-1)
    return out.reshape(chains, draws, -1)


def temperature_prior_draws(prior, n_bins: int, n_chains: int, n_draws: int, seed: int
                            ) -> dict[str, np.ndarray]:
    """Prior draws of ``log_temperature`` and ``temperature`` (chain, draw, B) (plus the
    sites a callable prior samples). ``prior`` as
    :func:`probex.models.calibration.temperature_model` accepts it, or a NumPyro
    distribution."""
    total = int(n_chains) * int(n_draws)
    if is_numpyro_distribution(prior):
        import jax

        shape = tuple(prior.batch_shape) + tuple(prior.event_shape)
        if shape != (int(n_bins),):
            raise ValueError(f"the log-temperature prior has shape {shape}; it must "
                             f"describe the ({n_bins},) log-temperatures of the bins")
        flat = {"log_temperature": np.asarray(
            prior.sample(jax.random.PRNGKey(int(seed) % 2**32), (total,)), np.float64)}
    else:
        flat = _pyro_prior_draws(prior, int(n_bins), total, seed)
    flat["temperature"] = np.exp(flat["log_temperature"])
    return {name: value.reshape(n_chains, n_draws, *value.shape[1:])
            for name, value in flat.items()}


def _pyro_prior_draws(prior, n_bins: int, total: int, seed: int) -> dict:
    """The model's own prior site, traced once per draw (priors are small: B values)."""
    import pyro
    from pyro import poutine

    from probex.inference._runtime import seeded
    from probex.models.calibration import _log_temperature_site

    like = torch.zeros((), dtype=torch.float64)

    def model():
        value = _log_temperature_site(prior, n_bins, like)
        pyro.deterministic("log_temperature_value", value)

    draws: dict[str, list] = {}
    with seeded(seed), torch.no_grad():
        for _ in range(total):
            trace = poutine.trace(model).get_trace()
            for name, site in trace.nodes.items():
                if site["type"] != "sample" or (site["is_observed"]
                                                and not site["infer"].get("_deterministic")):
                    continue
                draws.setdefault(name, []).append(site["value"].detach().cpu().numpy())
    out = {name: np.stack(values).astype(np.float64) for name, values in draws.items()}
    out["log_temperature"] = out.pop("log_temperature_value")  # what the model uses
    return out
