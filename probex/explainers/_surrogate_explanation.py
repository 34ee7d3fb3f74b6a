"""Packaging a surrogate fit as an :class:`~probex.Explanation`: the finiteness check of
the posterior, which data are kept, the closed-form marginals and design trace, and when
the InferenceData (:mod:`probex.explainers._surrogate_idata`) is built.

Used by :class:`probex.explainers._surrogate.SurrogateExplainer` for every surrogate
method (BayesLIME, BayesSHAP, EAGLE, C-LIME).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from probex.explainers._base import keep_perturbations
from probex.explainers._surrogate_idata import (
    closed_form_dataset,
    predictive_groups,
    surrogate_inference_data,
)
from probex.explanation import Explanation
from probex.inference.idata import netcdf_attrs
from probex.inference.surrogate_posterior import SurrogateFit
from probex.perturb import PerturbationSet

__all__ = ["surrogate_explanation", "check_finite_posterior"]


def surrogate_explanation(fit: SurrogateFit, perturbations: PerturbationSet, y: torch.Tensor,
                          x: torch.Tensor, prediction: torch.Tensor, feature_names: list[str],
                          attrs: dict, trace: dict | None = None,
                          keep_data: bool | None = None, predictive: bool | None = None,
                          prior=None) -> Explanation:
    """Package a surrogate fit of B instances as a batched Explanation.

    ``perturbations`` (B, n, d), ``y`` (B, n), ``x`` (B, d), ``prediction`` (B,). Exact
    fits give a deferred explanation (closed-form marginals now, InferenceData built by
    ``az.from_dict`` on first use); sampled fits build the InferenceData at once.
    ``keep_data`` stores the perturbations and answers (observed/constant data); by
    default only while they are small (:func:`keep_perturbations`), so that a large
    batch costs memory in its attributions, not in its B x n x d perturbations.
    ``predictive`` adds ``log_likelihood`` and ``posterior_predictive`` (``None``: while
    each is under 32 MB), ``prior`` (a :class:`~probex.priors.Prior`) the groups
    ``prior`` and ``prior_predictive``; both need the data kept (see
    :class:`SurrogateExplainer`).
    """
    n_instances = fit.data.n_instances
    feature_names = list(feature_names)
    check_finite_posterior(fit, feature_names)
    if keep_data is None:
        keep_data = keep_perturbations(perturbations.z.shape)
    if not keep_data:  # keep neither z nor the model inputs alive in the closure
        perturbations = y = None
    groups, note = predictive_groups(fit, perturbations, predictive, prior)
    attrs = {**attrs, "predictive_groups": note}
    meta = netcdf_attrs({"inference": fit.inference, "n_instances": n_instances, **attrs})
    trace_data = None if trace is None else xr.Dataset(
        {k: ("round", np.asarray(v)) for k, v in trace.items()},
        coords={"round": np.arange(len(next(iter(trace.values()))))})
    closed = None if fit.closed_form is None else closed_form_dataset(
        fit.closed_form, feature_names, n_instances)

    def build():
        idata = surrogate_inference_data(fit, perturbations, y, x, prediction,
                                         feature_names, meta, groups)
        if closed is not None:
            idata.add_groups({"closed_form": closed})
        if trace_data is not None:
            idata.add_groups({"design_trace": trace_data})
        return idata

    if closed is None:
        return Explanation(build())
    return Explanation.deferred(closed, meta, build, trace_data)


def check_finite_posterior(fit: SurrogateFit, feature_names: list[str]) -> None:
    """A ValueError that says why, instead of a summary with sd = inf or NaN."""
    if fit.closed_form is not None:
        values = [fit.closed_form.mean, fit.closed_form.marginal_sd]
    else:
        values = [torch.as_tensor(fit.draws.posterior["attribution"])]
    for value in values:
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            index = tuple(int(i) for i in bad.nonzero()[0])
            feature = feature_names[index[-1]]
            raise ValueError(
                f"the surrogate's posterior is not finite (feature {feature!r}, instance "
                f"{index[-2] if len(index) > 1 else 0}): the black box's outputs are too "
                "large for float64 sums of squares (about 1e154 and up); rescale them")
