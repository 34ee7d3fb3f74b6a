"""SmoothGrad and C-LIME with honest Monte Carlo errors, packaged as an Explanation.

The default estimator of :class:`probex.SmoothGrad` and :class:`probex.CLIME`
(``estimator="importance"``): each instance's phi(x) = E[grad f(x + z)] is estimated by
:func:`probex.inference.smoothed_gradient.smoothgrad_estimate` (from gradients) or
:func:`~probex.inference.smoothed_gradient.stein_gradient_estimate` (from function values,
Stein's identity), importance-sampled towards the decision boundary for classifiers, with
stratified standard errors, and a :class:`~probex.SamplingWarning` where the terms are
too heavy-tailed for the standard error to be trusted.
"""

from __future__ import annotations

import numpy as np
import torch

from probex.explanation import Explanation
from probex.inference.monte_carlo import check_monte_carlo_error
from probex.inference.smoothed_gradient import smoothgrad_estimate, stein_gradient_estimate

__all__ = ["smoothed_gradient_batch"]


def _padded(arrays: list[np.ndarray]) -> np.ndarray:
    """Stack per-instance arrays whose first axis may differ, padding with NaN."""
    rows = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), rows, *arrays[0].shape[1:]), np.nan)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def smoothed_gradient_batch(bb, X: torch.Tensor, targets: torch.Tensor, n_samples: int,
                            sigma: float, streams, *, method: str, from_gradients: bool,
                            n_draws: int, n_chains: int, keep_data: bool) -> Explanation:
    """phi(x) for B instances X (B, d) with honest Monte Carlo errors, instance i from
    its own stream and explaining output ``targets[i]``.

    The Explanation's ``mean`` and ``sd`` are the estimate and its standard error
    (``inference="monte_carlo"``, normal closed form), its draws N(mean, diag(sd^2));
    with ``keep_data`` the constant data hold each instance's perturbations z,
    importance weights and (SmoothGrad) gradients, padded with NaN to a common length;
    attributes record the sampler and the largest Pareto k.
    """
    output = "probability" if bb.task == "classification" else "value"
    results = []
    for i, row in enumerate(X):
        target = int(targets[i])
        generator = streams.generator(i)
        if from_gradients:
            result = smoothgrad_estimate(lambda A, t=target: bb.gradient(A, target=t), row,
                                         n_samples, sigma, generator, output=output)
        else:
            result = stein_gradient_estimate(lambda A, t=target: bb(A, target=t), row,
                                             n_samples, sigma, generator, output=output)
        check_monte_carlo_error(result.estimate, f"{method} (instance {i})", stacklevel=6)
        results.append(result)
    mean = np.stack([r.mean for r in results])
    se = np.stack([r.se for r in results])
    draws = np.stack([r.mean + r.se * np.random.default_rng(int(streams.seeds[i]) + 1)
                      .standard_normal((n_chains, n_draws, r.mean.shape[0]))
                      for i, r in enumerate(results)], axis=2)
    constant = {"x": X.cpu().numpy(), "prediction": np.array([r.prediction for r in results])}
    observed = coords = None
    if keep_data:
        constant.update(z=_padded([r.z.numpy() for r in results]),
                        weights=_padded([r.weights.numpy() for r in results]))
        if from_gradients:
            constant["gradients"] = _padded([r.gradients.numpy() for r in results])
        observed = {"response": _padded([r.values.numpy() for r in results])}
        coords = {"perturbation": np.arange(constant["z"].shape[1])}
    dims = {"z": ["instance", "perturbation", "feature"],
            "weights": ["instance", "perturbation"], "response": ["instance", "perturbation"],
            "gradients": ["instance", "perturbation", "feature"],
            "x": ["instance", "feature"], "prediction": ["instance"]}
    finite = [r.estimate.pareto_k[np.isfinite(r.estimate.pareto_k)] for r in results]
    k_max = max((float(k.max()) for k in finite if k.size), default=float("nan"))
    return Explanation.from_draws(
        draws, bb.feature_names, method=method, inference="monte_carlo",
        closed_form={"loc": mean, "sd": se, "distribution": "normal"},
        observed_data=observed, constant_data=constant,
        dims={k: v for k, v in dims.items() if k in constant or (observed and k in observed)},
        coords=coords,
        attrs={"sigma": float(sigma), "n_samples": int(n_samples), "estimator": "importance",
               "sampler": ",".join(sorted({r.sampler for r in results})),
               "pareto_k_max": k_max, "output": output,
               "reliable": int(all(bool(np.all(r.estimate.reliable)) for r in results))})
