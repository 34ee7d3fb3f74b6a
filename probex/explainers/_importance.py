"""EAGLE with the honest importance-sampled design (:mod:`probex.inference.importance_design`),
packaged as an Explanation. Called by :meth:`probex.EAGLE.explain` with
``design="importance"``.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from probex.explanation import Explanation
from probex.inference.importance_design import importance_design

__all__ = ["explain_by_importance"]


def explain_by_importance(explainer, x: torch.Tensor, budget: int, *, batch_size: int,
                          pool_size: int, initial_size: int | None, defensive: float,
                          tol: float | None, prob: float) -> Explanation:
    """One instance x (d,) explained by the importance-sampled design of ``explainer`` (an
    EAGLE: its black box, perturbation scheme, prior scale and seed).

    The posterior is the sandwich posterior N(phi_hat, V) of the importance-weighted fit
    (``inference="laplace"``: a Gaussian approximation, honest for the fit over the
    whole perturbation distribution whatever the black box); ``num_chains`` x
    ``num_draws`` draws of it are stored. ``constant_data`` holds z, the locality
    weights and the importance weights; ``trace`` the rounds.
    """
    bb, scheme = explainer.bb, explainer.perturbation
    queries_before = bb.n_queries
    prior_scale = float(getattr(explainer.prior, "scale", 1.0))
    result = importance_design(
        scheme, x, explainer._query, budget, torch.Generator().manual_seed(explainer.seed),
        batch_size=batch_size, pool_size=pool_size, initial_size=initial_size,
        defensive=defensive, prior_scale=prior_scale, tol=tol, prob=prob)
    fit = result.fit
    n = len(result.y)
    attrs = {"design": "importance", "covariance": "sandwich (HC3)",
             "kernel": explainer.kernel, "perturbation": type(scheme).__name__,
             "seed": explainer.seed, "budget": budget, "batch_size": batch_size,
             "pool_size": pool_size, "defensive": float(defensive),
             "tol": -1.0 if tol is None else float(tol), "prob": float(prob),
             "intercept": float(fit.intercept),
             "target": -1 if bb.target is None else bb.target}
    n_queries = bb.n_queries - queries_before
    trace = xr.Dataset({k: ("round", np.asarray(v, dtype=float))
                        for k, v in result.trace.items()},
                       coords={"round": np.arange(len(result.trace["n_queries"]))})
    feature_names = [str(f) for f in bb.feature_names]
    closed = xr.Dataset({"loc": (("feature",), fit.coef), "sd": (("feature",), fit.se)},
                        coords={"feature": feature_names}, attrs={"distribution": "normal"})

    def build():
        draws = np.random.default_rng(explainer.seed).multivariate_normal(
            fit.coef, fit.covariance, size=(explainer.num_chains, explainer.num_draws),
            method="eigh")
        idata = Explanation.from_draws(
            draws, feature_names, method=explainer.method, inference="laplace",
            n_queries=n_queries,
            closed_form={"loc": fit.coef, "sd": fit.se, "distribution": "normal"},
            observed_data={"response": result.y.numpy()},
            constant_data={"z": result.perturbations.z[0].cpu().numpy(),
                           "weights": result.locality.cpu().numpy(),
                           "importance": result.importance.numpy(), "x": x.cpu().numpy()},
            dims={"response": ["perturbation"], "z": ["perturbation", "feature"],
                  "weights": ["perturbation"], "importance": ["perturbation"],
                  "x": ["feature"]},
            coords={"perturbation": np.arange(n)}, attrs=attrs).idata
        idata.add_groups({"design_trace": trace})
        return idata

    meta = {"method": explainer.method, "inference": "laplace", "n_queries": n_queries,
            "n_instances": 1, **attrs}
    return Explanation.deferred(closed, meta, build, trace)
