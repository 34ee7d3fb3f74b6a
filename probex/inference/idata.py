"""One path from posterior draws of any inference method to ``arviz.InferenceData``.

Built with ``az.from_dict`` (groups posterior, sample_stats, observed_data,
constant_data, and where given log_likelihood, posterior_predictive, prior and
prior_predictive), so the same code serves exact, SVI and NUTS results and does not rely
on ``az.from_pyro``, which ArviZ 1.0 drops.
"""

from __future__ import annotations

import arviz as az
import numpy as np

from probex.inference.draws import PosteriorDraws

__all__ = ["to_inference_data", "netcdf_attrs"]


def to_inference_data(draws: PosteriorDraws, *, observed_data: dict | None = None,
                      constant_data: dict | None = None, coords: dict | None = None,
                      dims: dict | None = None, attrs: dict | None = None,
                      log_likelihood: dict | None = None,
                      posterior_predictive: dict | None = None, prior: dict | None = None,
                      prior_predictive: dict | None = None) -> az.InferenceData:
    """Wrap draws (chain, draw, ...) and data into an InferenceData.

    ``log_likelihood`` (pointwise, named like the observed variable),
    ``posterior_predictive``, ``prior`` and ``prior_predictive`` are further groups of
    arrays (chain, draw, ...), dimensioned by ``dims`` like the posterior.

    ``coords`` and ``dims`` name the non-sample dimensions (e.g. ``{"feature": names}``,
    ``{"attribution": ["feature"]}``; the draws' ``sample_stats_dims`` are added);
    ``attrs`` are stored on every group (booleans as
    0/1, ``None`` as ``"none"``, anything else not numeric as its string).
    """
    attrs = netcdf_attrs({"inference": draws.method, **(attrs or {})})
    dims = {**draws.sample_stats_dims, **(dims or {})}
    idata = az.from_dict(
        posterior={k: np.asarray(v) for k, v in draws.posterior.items()},
        sample_stats={k: np.asarray(v) for k, v in draws.sample_stats.items()} or None,
        observed_data=observed_data,
        constant_data=constant_data,
        log_likelihood=log_likelihood,
        posterior_predictive=posterior_predictive,
        prior=prior,
        prior_predictive=prior_predictive,
        coords=coords,
        dims=dims,
    )
    for group in idata.groups():  # from_dict (ArviZ 0.23) does not apply attrs itself
        idata[group].attrs.update(attrs)
    return idata


def netcdf_attrs(attrs: dict) -> dict:
    """Metadata as netCDF can store it (see :func:`_netcdf_attr`)."""
    return {key: _netcdf_attr(value) for key, value in attrs.items()}


def _netcdf_attr(value):
    """netCDF attributes hold strings, numbers and 1-D numeric arrays only."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if value is None:
        return "none"
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return value
    array = np.asarray(value)
    if array.ndim == 1 and array.dtype.kind in "iuf":
        return array
    return str(value)
