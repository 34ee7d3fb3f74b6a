"""The ArviZ InferenceData of a surrogate explanation: posterior draws, sampler
statistics, the perturbations and answers, the closed-form marginals of an exact
posterior, and the model-checking groups (``log_likelihood``, ``posterior_predictive``,
``prior``, ``prior_predictive``; :mod:`probex.inference.predictive`).

Used by :func:`probex.explainers._surrogate_explanation.surrogate_explanation`, which
decides when it is built (at once for sampled posteriors, on first use for exact ones).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from probex.inference.exact import NormalInverseGammaPosterior
from probex.inference.idata import to_inference_data
from probex.inference.predictive import (
    PREDICTIVE_VALUES_MAX,
    pointwise_log_likelihood,
    prior_draws,
    prior_replicated_answers,
    replicated_answers,
)
from probex.inference.surrogate_posterior import SurrogateFit
from probex.perturb import PerturbationSet

__all__ = ["closed_form_dataset", "predictive_groups", "surrogate_inference_data"]


def closed_form_dataset(cf: NormalInverseGammaPosterior, feature_names: list[str],
                         n_instances: int) -> xr.Dataset:
    """Student-t marginals of a normal-inverse-gamma posterior, over (instance, feature)."""
    feature_dims = ("instance", "feature")
    return xr.Dataset(
        {"loc": (feature_dims, cf.mean.cpu().numpy()),
         "scale": (feature_dims, cf.marginal_scale.cpu().numpy()),
         "sd": (feature_dims, cf.marginal_sd.cpu().numpy()),
         "df": (("instance",), cf.df.cpu().numpy()),
         "noise_variance_mean": (("instance",), cf.noise_variance_mean.cpu().numpy())},
        coords={"feature": feature_names, "instance": np.arange(n_instances)},
        attrs={"distribution": "multivariate Student-t marginal of a normal-inverse-gamma"},
    )


def _dims(posterior: dict, n_instances: int, n_features: int) -> dict:
    dims = {}
    for name, value in posterior.items():
        site_shape = value.shape[2:]
        if site_shape == (n_instances,):
            dims[name] = ["instance"]
        elif site_shape == (n_instances, n_features):
            dims[name] = ["instance", "feature"]
        else:
            dims[name] = ["instance"] + [f"{name}_dim_{i}" for i in range(len(site_shape) - 1)]
    return dims


def predictive_groups(fit: SurrogateFit, perturbations, predictive: bool | None,
                       prior) -> tuple[dict, str]:
    """Which model-checking groups to build ({"predictive": bool, "prior": Prior or
    None}) and a sentence for the metadata saying which, or why none."""
    wanted = {"predictive": False, "prior": None}
    if predictive is False and prior is None:
        return wanted, "none (predictive=False)"
    if perturbations is None:
        return wanted, ("none: the perturbations were not kept (keep_data=False, or a "
                        "call's perturbations over 32 MB); explain with predictive=True")
    chains, draws = fit.draw_shape
    size = chains * draws * int(np.prod(perturbations.z.shape[:-1]))
    wanted["predictive"] = bool(predictive) or (predictive is None
                                                and size <= PREDICTIVE_VALUES_MAX)
    wanted["prior"] = prior
    names = (["log_likelihood", "posterior_predictive"] if wanted["predictive"] else []) + (
        ["prior", "prior_predictive"] if prior is not None else [])
    if not wanted["predictive"] and predictive is None:
        return wanted, ", ".join(names) or (
            f"none: log_likelihood and posterior_predictive would hold {size} values each "
            f"(over {PREDICTIVE_VALUES_MAX}); explain with predictive=True")
    return wanted, ", ".join(names)


def _model_checking(fit: SurrogateFit, posterior: dict, z: np.ndarray, y: np.ndarray,
                    weights: np.ndarray, groups: dict) -> dict:
    """The log_likelihood / posterior_predictive / prior / prior_predictive groups."""
    out = {}
    seeds = fit.seeds if fit.seeds is not None else np.arange(z.shape[0])
    seeds = np.asarray(seeds, dtype=np.int64)
    if groups["predictive"]:
        args = (posterior["attribution"], posterior["intercept"], posterior["noise_scale"], z)
        out["log_likelihood"] = {"response": pointwise_log_likelihood(*args, y, weights)}
        out["posterior_predictive"] = {"response": replicated_answers(*args, weights,
                                                                      seeds + 3)}
    if groups["prior"] is not None:
        chains, n_draws = fit.draw_shape
        per_instance = [prior_draws(groups["prior"], z.shape[-1], 1, chains, n_draws,
                                    int(seed) + 4) for seed in seeds]
        prior = {name: np.concatenate([p[name] for p in per_instance], axis=2)
                 for name in per_instance[0]}
        out["prior"] = prior
        out["prior_predictive"] = {"response": prior_replicated_answers(
            prior["attribution"], prior["noise_scale"], z, y, weights, seeds + 5)}
    return out


def surrogate_inference_data(fit: SurrogateFit, perturbations: PerturbationSet, y: torch.Tensor,
                    x: torch.Tensor, prediction: torch.Tensor, feature_names: list[str],
                    meta: dict, groups: dict | None = None):
    """Posterior draws, sampler statistics, observed and constant data, and the model
    checking ``groups`` (:func:`predictive_groups`), via az.from_dict."""
    draws = fit.draws
    n_instances, n_features = fit.data.n_instances, fit.data.n_features
    dims = _dims(draws.posterior, n_instances, n_features)
    dims.update({"response": ["instance", "perturbation"],
                 "z": ["instance", "perturbation", "feature"],
                 "weights": ["instance", "perturbation"], "levels": ["instance", "perturbation"],
                 "x": ["instance", "feature"], "prediction": ["instance"]})
    coords = {"feature": feature_names, "instance": np.arange(n_instances)}
    constant = {"x": x.cpu().numpy(), "prediction": prediction.cpu().numpy()}
    observed, checking = None, {}
    if perturbations is not None:
        coords["perturbation"] = np.arange(perturbations.z.shape[-2])
        constant.update(z=perturbations.z.cpu().numpy(),
                        weights=perturbations.weights.cpu().numpy(),
                        levels=perturbations.levels.cpu().numpy())
        observed = {"response": y.cpu().numpy()}
        if groups is not None:
            checking = _model_checking(fit, draws.posterior, constant["z"],
                                       observed["response"], constant["weights"], groups)
            if "prior" in checking:
                dims.update({k: v for k, v in _dims(checking["prior"], n_instances,
                                                    n_features).items() if k not in dims})
    return to_inference_data(draws, observed_data=observed, constant_data=constant,
                             coords=coords, dims=dims, attrs=meta, **checking)
