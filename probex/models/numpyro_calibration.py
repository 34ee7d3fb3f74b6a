"""ReCalX's temperature model as a NumPyro program (the NumPyro backend).

The same generative model as :func:`probex.models.calibration.temperature_model`, with the
same site names (``log_temperature`` (B,), deterministic ``temperature`` (B,), observed
``label`` in the plate ``calibration_rows``):

    u = (log T_1, ..., log T_B)  ~ N(initial_loc, initial_scale^2 + step_scale^2 min(b, b'))
    y_i | s_i, b_i, u            ~ Categorical(softmax(s_i / T_{b_i}))

(the Gaussian random walk over level bins in centred form; or a user's NumPyro
distribution over the (B,) log-temperatures). Written as a small JAX port for the reasons
given in :mod:`probex.models.numpyro_surrogate`. Shapes: ``log_probs`` (N, k),
``labels`` and ``bins`` (N,) integers; one program (not batched over instances).
"""

from __future__ import annotations

from functools import partial

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as nd
import torch

from probex.models.numpyro_program import NumPyroProgram
from probex.prior_base import is_numpyro_distribution

__all__ = ["temperature_program"]

_RANDOM_WALK = {"initial_loc": 0.0, "initial_scale": 1.0, "step_scale": 0.5}
"""The defaults of :func:`probex.models.calibration.random_walk_prior`."""


def _log_temperature_prior(n_bins: int, user_prior, hyper):
    if user_prior is None:
        index = jnp.arange(n_bins, dtype=jnp.result_type(float))
        covariance = (hyper["initial_scale"] ** 2
                      + hyper["step_scale"] ** 2 * jnp.minimum(index[:, None], index[None, :]))
        loc = jnp.full(n_bins, hyper["initial_loc"])
        return nd.MultivariateNormal(loc, covariance_matrix=covariance)
    shape = tuple(user_prior.batch_shape) + tuple(user_prior.event_shape)
    if shape != (n_bins,):
        raise ValueError(f"the log-temperature prior has shape {shape} (batch + event); it "
                         f"must describe the ({n_bins},) log-temperatures of the bins")
    return user_prior.to_event(1) if user_prior.event_shape == () else user_prior


def _temperature_model(data, hyper, *, n_bins: int, user_prior):
    prior = _log_temperature_prior(n_bins, user_prior, hyper)
    log_temperature = numpyro.sample("log_temperature", prior)
    temperature = numpyro.deterministic("temperature", jnp.exp(log_temperature))
    per_row = temperature[data["bins"]]
    with numpyro.plate("calibration_rows", data["labels"].shape[0]):
        numpyro.sample("label", nd.Categorical(logits=data["log_probs"] / per_row[:, None]),
                       obs=data["labels"])


def _numpy(value, dtype) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def temperature_program(log_probs, labels, bins, n_bins: int, prior=None
                        ) -> NumPyroProgram | None:
    """The NumPyro program of ReCalX's temperatures, or ``None`` when it has no twin
    (a Pyro distribution or a callable prior, or ``labels=None``: sample with Pyro).

    Arguments as :func:`probex.models.calibration.temperature_model`.
    """
    if labels is None:
        return None
    if prior is None:
        hyper, user_prior = dict(_RANDOM_WALK), None
    elif is_numpyro_distribution(prior):
        hyper, user_prior = {}, prior
    else:
        return None
    n_bins = int(n_bins)
    data = {"log_probs": _numpy(log_probs, np.float64), "labels": _numpy(labels, np.int32),
            "bins": _numpy(bins, np.int32)}
    model = partial(_temperature_model, n_bins=n_bins, user_prior=user_prior)
    return NumPyroProgram(model=model, key=("temperature", n_bins, user_prior), data=data,
                          hyper=hyper, batched=False)
