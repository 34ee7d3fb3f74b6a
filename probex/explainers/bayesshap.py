"""BayesSHAP: Shapley values of the masked game with an honest interval.

With its default (conjugate prior, exact inference) BayesSHAP estimates the exact
Shapley values of the game v(z) = f(z x + (1 - z) b) that its mask scheme defines (b the
background mean) from a stratified, paired coalition design
(:mod:`probex.inference.shapley_design`: whole coalition sizes enumerated while the
budget allows, antithetic pairs for the rest), by KernelSHAP's weighted least squares
with efficiency sum(phi) = f(x) - f(b) imposed exactly and its uncertainty from the
stratified jackknife (:mod:`probex.inference.shapley`): the residuals of an additive fit
to a non-additive game are misspecification, not noise, so the spread reported is that
of the design (Mueller 2013's sandwich), which shrinks to 0 when every coalition is
enumerated. ``sd`` is therefore a Monte Carlo error of an estimate of a fixed quantity.

With another prior or inference (``prior=px.priors.Laplace(...)``, ``inference="nuts"``)
BayesSHAP fits the Bayesian linear surrogate of :class:`~probex.BayesLIME` to
KernelSHAP-sampled masks instead: a posterior under that model, whose intervals need not
cover the exact Shapley values.

Model checking: the design-based estimator is not a probabilistic model of the answers,
so its explanations have no ``log_likelihood`` or predictive groups (``az.loo`` has
nothing to score; the metadata ``predictive_groups`` says so). The Bayesian-surrogate
path has them as BayesLIME's do, and :func:`probex.workflow.compare_priors` fits priors
to KernelSHAP-sampled masks through it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import xarray as xr

from probex._threads import single_intra_op_thread
from probex.explainers.bayeslime import BayesLIME
from probex.explanation import Explanation
from probex.inference.draws import PosteriorDraws
from probex.inference.idata import netcdf_attrs, to_inference_data
from probex.inference.shapley import ShapleyPosterior, shapley_posterior
from probex.inference.shapley_design import CoalitionDesign, allocate_strata, shapley_design
from probex.perturb import MaskPerturbation

__all__ = ["BayesSHAP"]


class BayesSHAP(BayesLIME):
    """Shapley values with efficiency exact and intervals that cover them.

    Arguments as :class:`~probex.BayesLIME` (``BayesSHAP(bb, background=X_train)``); the
    budget ``n_samples`` must cover the design's minimum (about 2 + 8 floor(d / 2)
    coalitions), and ``n_queries`` reports what the design used (all 2^d coalitions
    when the budget allows them).
    """

    method = "BayesSHAP"
    _default_kernel = "shap"
    _default_perturbation = "mask"

    @property
    def uses_design(self) -> bool:
        """Whether the stratified design and jackknife are used (the default), rather
        than a Bayesian surrogate with a user's prior or sampler."""
        return (self.inference == "exact" and isinstance(self.perturbation, MaskPerturbation)
                and self.perturbation.kernel == "shap")

    @property
    def uncertainty(self) -> str:
        return "monte_carlo_error" if self.uses_design else "posterior"

    def _check_budget(self, n_samples: int, n_features: int, options: dict) -> None:
        if self.uses_design:  # the design's minimum, named before any query
            allocate_strata(n_features, n_samples)

    def _is_vectorized(self, options: dict) -> bool:
        return self.uses_design or super()._is_vectorized(options)

    def _explain(self, X, targets, n_samples, streams, **options) -> Explanation:
        if not self.uses_design:
            return super()._explain(X, targets, n_samples, streams, **options)
        if options.get("focused") or options.get("target_width") is not None:
            raise ValueError("focused sampling and target_width apply to BayesLIME's "
                             "surrogate; BayesSHAP's design is fixed by n_samples")
        design = _row_designs(X.shape[1], n_samples, streams.generators())
        baseline = self.perturbation.baseline
        inputs = design.inputs(X, baseline)
        levels = 1.0 - design.z.mean(-1)
        y = self.bb(inputs.reshape(-1, X.shape[1]), level=levels.reshape(-1),
                    target=targets.repeat_interleave(design.n_rows)).reshape(X.shape[0], -1)
        with single_intra_op_thread():  # per instance: its bits do not depend on the batch
            posterior = _stack([shapley_posterior(_design_row(design, i), y[i:i + 1].cpu())
                                for i in range(X.shape[0])])
        keep = options.get("keep_data", True)
        return _package(posterior, design if keep else None, y.cpu() if keep else None, X,
                        levels, streams, self.bb.feature_names, self.n_draws, self.n_chains,
                        {"kernel": "shap", "perturbation": "stratified paired coalitions",
                         "prior": "none (design-based)", "n_samples": n_samples,
                         "predictive_groups": _NO_LIKELIHOOD})


_NO_LIKELIHOOD = ("none: the design-based estimator has no likelihood (its sd is a "
                  "Monte Carlo error); a prior or inference='nuts' fits the Bayesian "
                  "surrogate, whose explanations have them")


def _row_designs(d: int, n_samples: int, generators) -> CoalitionDesign:
    """One design per instance, instance i drawn from ``generators[i]`` alone."""
    designs = [shapley_design(d, n_samples, generator=g) for g in generators]
    first = designs[0]
    return dataclasses.replace(first, z=torch.cat([p.z for p in designs]),
                               weights=first.weights.expand(len(designs), -1))


def _design_row(design: CoalitionDesign, i: int) -> CoalitionDesign:
    return dataclasses.replace(design, z=design.z[i:i + 1], weights=design.weights[i:i + 1])


def _stack(posteriors: list[ShapleyPosterior]) -> ShapleyPosterior:
    """Posteriors of single instances joined along the instance axis."""
    first = posteriors[0]
    return dataclasses.replace(
        first, **{name: np.concatenate([getattr(p, name) for p in posteriors])
                  for name in ("mean", "scale", "df", "base_value", "prediction")},
        stratum_covariance=np.concatenate([p.stratum_covariance for p in posteriors],
                                          axis=1))


def _instance(posterior: ShapleyPosterior, i: int) -> ShapleyPosterior:
    return dataclasses.replace(
        posterior, mean=posterior.mean[i:i + 1], scale=posterior.scale[i:i + 1],
        df=posterior.df[i:i + 1], base_value=posterior.base_value[i:i + 1],
        prediction=posterior.prediction[i:i + 1],
        stratum_covariance=posterior.stratum_covariance[:, i:i + 1])


def _package(posterior: ShapleyPosterior, design: CoalitionDesign | None, y: torch.Tensor | None,
             X: torch.Tensor, levels: torch.Tensor, streams, feature_names: list[str],
             n_draws: int, n_chains: int, attrs: dict) -> Explanation:
    """A deferred Explanation: Student-t marginals now, draws (and, unless ``design`` is
    None, the coalitions and answers) on first use."""
    n_instances = X.shape[0]
    meta = netcdf_attrs({"inference": "monte_carlo", "n_instances": n_instances,
                         "n_evaluations": int(posterior.n_evaluations), **attrs})
    dims = ("instance", "feature")
    coords = {"feature": list(feature_names), "instance": np.arange(n_instances)}
    closed = xr.Dataset(
        {"loc": (dims, posterior.mean), "scale": (dims, posterior.scale),
         "sd": (dims, posterior.sd), "df": (dims, posterior.df),
         "base_value": (("instance",), posterior.base_value)},
        coords=coords,
        attrs={"distribution": "Student-t marginals of the stratified jackknife"})

    def build():
        draws = np.stack([_instance(posterior, i).sample(n_chains * n_draws,
                                                         seed=int(streams.seeds[i]))[:, 0]
                          for i in range(n_instances)], axis=1)
        draws = draws.reshape(n_chains, n_draws, n_instances, -1)
        constant = {"x": X.cpu().numpy(), "prediction": posterior.prediction}
        extra_coords = {}
        if design is not None:
            constant.update(z=design.z.numpy(), weights=design.weights.numpy(),
                            levels=levels.numpy())
            extra_coords["perturbation"] = np.arange(design.n_rows)
        idata = to_inference_data(
            PosteriorDraws({"attribution": draws}, "monte_carlo"),
            observed_data=None if y is None else {"response": y.numpy()},
            constant_data=constant, coords={**coords, **extra_coords},
            dims={"attribution": list(dims), "response": ["instance", "perturbation"],
                  "z": ["instance", "perturbation", "feature"],
                  "weights": ["instance", "perturbation"],
                  "levels": ["instance", "perturbation"], "x": list(dims),
                  "prediction": ["instance"]},
            attrs=meta)
        idata.add_groups({"closed_form": closed})
        return idata

    return Explanation.deferred(closed, meta, build)
