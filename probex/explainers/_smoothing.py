"""SmoothGrad and C-LIME with honest Monte Carlo errors, packaged as an Explanation.

Called by :meth:`probex.SmoothGrad.explain` and :meth:`probex.CLIME.explain` with
``estimator="importance"``: each instance's phi(x) = E[grad f(x + z)] is estimated by
:func:`probex.inference.smoothed_gradient.smoothgrad_estimate` (from gradients) or
:func:`~probex.inference.smoothed_gradient.stein_gradient_estimate` (from function values),
importance-sampled towards the decision boundary for classifiers, and a
:class:`~probex.diagnostics_warnings.SamplingWarning` is raised where the terms are too
heavy-tailed for the standard error to be trusted.
"""

from __future__ import annotations

import numpy as np
import torch

from probex._checks import as_tensor
from probex.explanation import Explanation
from probex.inference.monte_carlo import check_monte_carlo_error
from probex.inference.smoothed_gradient import smoothgrad_estimate, stein_gradient_estimate

__all__ = ["smoothed_gradient_explanation"]


def _padded(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack per-instance arrays whose first axis may differ, padding with NaN."""
    rows = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), rows, *arrays[0].shape[1:]), np.nan)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def smoothed_gradient_explanation(bb, x, n_samples: int, sigma: float, seed: int, *,
                                  method: str, from_gradients: bool, num_draws: int,
                                  num_chains: int) -> Explanation:
    """phi(x) for one instance (d,) or B instances (B, d) with honest Monte Carlo errors.

    Instance i uses the generator seeded by ``seed + i``. The Explanation's ``mean`` and
    ``sd`` are the estimate and its standard error (``inference="monte_carlo"``, normal
    closed form), its draws N(mean, diag(sd^2)); constant data hold each instance's
    perturbations z, importance weights and (SmoothGrad) gradients, padded with NaN to a
    common length; attributes record the sampler and the largest Pareto k.
    """
    x = as_tensor(x, "x")
    single = x.ndim == 1
    instances = x.unsqueeze(0) if single else x
    if instances.ndim != 2:
        raise ValueError(f"x must have shape (d,) or (n_instances, d); got {tuple(x.shape)}")
    bb.bind_features(instances.shape[1])
    output = "probability" if bb.task == "classification" else "value"
    before = bb.n_queries
    results = []
    for i, row in enumerate(instances):
        generator = torch.Generator().manual_seed(int(seed) + i)
        if from_gradients:
            result = smoothgrad_estimate(bb.gradient, row, n_samples, sigma, generator,
                                         output=output)
        else:
            result = stein_gradient_estimate(bb, row, n_samples, sigma, generator,
                                             output=output)
        check_monte_carlo_error(result.estimate, f"{method} (instance {i})", stacklevel=4)
        results.append(result)
    mean = np.stack([r.mean for r in results])
    se = np.stack([r.se for r in results])
    rng = np.random.default_rng(int(seed))
    draws = mean + se * rng.standard_normal((num_chains, num_draws, *mean.shape))
    data = {"z": _padded([r.z.numpy() for r in results]),
            "weights": _padded([r.weights.numpy() for r in results]),
            "response": _padded([r.values.numpy() for r in results]),
            "x": instances.cpu().numpy(),
            "prediction": np.array([r.prediction for r in results])}
    if from_gradients:
        data["gradients"] = _padded([r.gradients.numpy() for r in results])
    dims = {"z": ["instance", "perturbation", "feature"],
            "weights": ["instance", "perturbation"], "response": ["instance", "perturbation"],
            "gradients": ["instance", "perturbation", "feature"],
            "x": ["instance", "feature"], "prediction": ["instance"]}
    if single:
        draws, mean, se = draws[:, :, 0], mean[0], se[0]
        data = {k: v[0] for k, v in data.items()}
        dims = {k: v[1:] for k, v in dims.items()}
    k_max = max(float(np.nanmax(r.estimate.pareto_k)) if np.any(np.isfinite(
        r.estimate.pareto_k)) else float("nan") for r in results)
    return Explanation.from_draws(
        draws, bb.feature_names, method=method, inference="monte_carlo",
        n_queries=bb.n_queries - before,
        closed_form={"loc": mean, "sd": se, "distribution": "normal"},
        observed_data={"response": data.pop("response")},
        constant_data=data, dims={k: v for k, v in dims.items() if k in data or
                                  k == "response"},
        coords={"perturbation": np.arange(data["z"].shape[-2])},
        attrs={"sigma": float(sigma), "n_samples": int(n_samples), "seed": int(seed),
               "estimator": "importance", "sampler": ",".join(r.sampler for r in results),
               "pareto_k_max": k_max,
               "reliable": int(all(bool(np.all(r.estimate.reliable)) for r in results)),
               "target": -1 if bb.target is None else bb.target,
               "output": output})
