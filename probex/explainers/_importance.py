"""EAGLE's honest design (:mod:`probex.inference.importance_design`) packaged as an
Explanation: the default of :class:`probex.EAGLE` (``design="importance"``).

EIG picks are sampled with known probabilities (a defensive mixture with the scheme's
own distribution), so importance weights make the weighted fit consistent for the
surrogate over the whole perturbation distribution; its uncertainty is the sandwich
(HC3, pool-aware) covariance, reported as the normal N(phi_hat, V)
(``inference="laplace"``: a Gaussian approximation that stays honest when the black box
is not linear). Under the Shapley kernel the empty and full coalitions are exact
constraints, so the target is the Shapley values.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from probex.explanation import Explanation
from probex.inference.importance_design import importance_design

__all__ = ["importance_explanation"]


def importance_explanation(explainer, X: torch.Tensor, targets: torch.Tensor, n_samples: int,
                           streams, *, batch_size: int, pool_size: int, initial_size: int,
                           defensive: float, target_width: float | None, prob: float,
                           keep_data: bool) -> Explanation:
    """One instance X (1, d) explained by the importance-sampled design of ``explainer``
    (an EAGLE: its black box, perturbation scheme, prior scale, draws), as a batched
    Explanation of that one instance; ``trace`` holds the rounds."""
    scheme = explainer.perturbation
    prior_scale = float(getattr(explainer.prior, "scale", 1.0))
    result = importance_design(
        scheme, X[0], lambda batch: explainer._query(batch, targets), n_samples,
        streams.generator(0), batch_size=batch_size, pool_size=pool_size,
        initial_size=initial_size, defensive=defensive, prior_scale=prior_scale,
        tol=target_width, prob=prob)
    fit = result.fit
    names = list(explainer.bb.feature_names)
    attrs = {"design": "importance", "covariance": "sandwich (HC3)",
             "uncertainty": "monte_carlo_error",
             "kernel": explainer.kernel, "perturbation": type(scheme).__name__,
             "budget": n_samples, "batch_size": batch_size, "pool_size": pool_size,
             "defensive": float(defensive),
             "target_width": -1.0 if target_width is None else float(target_width),
             "prob": float(prob), "intercept": float(fit.intercept)}
    trace = xr.Dataset({k: ("round", np.asarray(v, dtype=float))
                        for k, v in result.trace.items()},
                       coords={"round": np.arange(len(result.trace["n_queries"]))})
    coef, se = fit.coef[None], fit.se[None]
    closed = xr.Dataset({"loc": (("instance", "feature"), coef),
                         "sd": (("instance", "feature"), se)},
                        coords={"feature": names, "instance": np.arange(1)},
                        attrs={"distribution": "normal"})
    data = None
    if keep_data:
        data = {"z": result.perturbations.z.cpu().numpy(),
                "weights": result.locality.cpu().numpy()[None],
                "importance": result.importance.numpy()[None],
                "response": result.y.numpy()[None]}
    x = X.cpu().numpy()
    seed = int(streams.seeds[0])

    def build():
        draws = np.random.default_rng(seed).multivariate_normal(
            fit.coef, fit.covariance, size=(explainer.n_chains, explainer.n_draws),
            method="eigh")[:, :, None]
        constant = {"x": x}
        dims = {"x": ["instance", "feature"]}
        observed = coords = None
        if data is not None:
            constant.update(z=data["z"], weights=data["weights"],
                            importance=data["importance"])
            observed = {"response": data["response"]}
            dims.update(response=["instance", "perturbation"],
                        z=["instance", "perturbation", "feature"],
                        weights=["instance", "perturbation"],
                        importance=["instance", "perturbation"])
            coords = {"perturbation": np.arange(data["z"].shape[1])}
        idata = Explanation.from_draws(
            draws, names, method=explainer.method, inference="laplace",
            closed_form={"loc": coef, "sd": se, "distribution": "normal"},
            observed_data=observed, constant_data=constant, dims=dims, coords=coords,
            attrs=attrs).idata
        idata.add_groups({"design_trace": trace})
        return idata

    meta = {"method": explainer.method, "inference": "laplace", "n_instances": 1, **attrs}
    return Explanation.deferred(closed, meta, build, trace)
