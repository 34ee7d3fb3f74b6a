"""The target of a weighted linear surrogate: its fit over the whole perturbation distribution.

A perturbation scheme draws z ~ p and weights each row by its locality weight pi(z).
Whatever rows a method queries, the explanation the user asked for is the population fit

    (c*, phi*) = argmin E_p[pi(z) (f(x(z)) - c - z.phi)^2]
               = M^-1 E_p[pi z~ f],      M = E_p[pi z~ z~^T],   z~ = (1, z),

which an adaptive design converges to only if it weights its rows back to p
(:mod:`probex.inference.importance_design`). This module computes it independently of
any design, as ground truth for tests and benchmarks:

- binary masks, d <= 16: every one of the 2^d masks, weighted by p(z) pi(z): exact. For
  the Shapley kernel p puts size k in 1..d-1 with probability proportional to
  (d - 1) / (k (d - k)) and the empty and full coalitions are exact constraints, so the
  target is the vector of Shapley values of the masked game (Lundberg & Lee, 2017, Thm 2).
- Gaussian perturbations z ~ N(0, s^2 I) with the LIME kernel
  pi = exp(-||z||^2 / (2 w^2)): p pi is itself proportional to N(0, t^2 I),
  1 / t^2 = 1 / s^2 + 1 / w^2, so an unweighted fit to draws from it is an unbiased
  Monte Carlo truth (``n_samples`` draws; its own sandwich standard error is returned).

``query(inputs)`` maps model inputs (m, d) to the explained outputs (m,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from probex.inference.sandwich import constrained_least_squares, weighted_least_squares
from probex.perturb import GaussianPerturbation, MaskPerturbation

__all__ = ["SurrogateTarget", "mask_surrogate_target", "gaussian_surrogate_target"]

_MAX_ENUMERATED_FEATURES = 16


@dataclass(frozen=True)
class SurrogateTarget:
    """phi* (d,), c*, and the standard error of a Monte Carlo truth (zeros when exact)."""

    coef: np.ndarray
    intercept: float
    se: np.ndarray


def _all_masks(d: int) -> np.ndarray:
    codes = np.arange(2**d)[:, None]
    return ((codes >> np.arange(d)) & 1).astype(float)


def mask_surrogate_target(query, perturbation: MaskPerturbation, x) -> SurrogateTarget:
    """Exact target of a mask scheme by enumerating all 2^d coalitions (d <= 16)."""
    if not isinstance(perturbation, MaskPerturbation):
        raise TypeError("mask_surrogate_target needs a MaskPerturbation")
    d = perturbation.n_features
    if d > _MAX_ENUMERATED_FEATURES:
        raise ValueError(f"enumeration is for d <= {_MAX_ENUMERATED_FEATURES}, got d = {d}")
    z = _all_masks(d)
    x = torch.as_tensor(x, dtype=torch.float64).reshape(1, d)
    y = np.asarray(query(perturbation.to_inputs(x, torch.as_tensor(z))[0]), dtype=float)
    y = y.reshape(-1)
    size = z.sum(1)
    if perturbation.kernel == "lime":
        weights = perturbation.weights(torch.as_tensor(z)).numpy() / 2.0**d
        fit = weighted_least_squares(z, y, weights)
    else:
        inner = (size > 0) & (size < d)
        k = size[inner]
        weights = (d - 1) / (k * (d - k)) / np.exp(
            math.lgamma(d + 1) - _lgamma(k + 1) - _lgamma(d - k + 1))
        fit = constrained_least_squares(z[inner], y[inner], weights, z[~inner], y[~inner])
    return SurrogateTarget(fit.coef, float(fit.intercept), np.zeros(d))


def _lgamma(values: np.ndarray) -> np.ndarray:
    return np.array([math.lgamma(v) for v in values])


def gaussian_surrogate_target(query, perturbation: GaussianPerturbation, x,
                              n_samples: int = 1_000_000, seed: int = 0,
                              chunk: int = 100_000) -> SurrogateTarget:
    """Monte Carlo target of a Gaussian scheme (LIME kernel or none) from ``n_samples``
    draws of the locality-weighted distribution p pi, fitted without weights."""
    if not isinstance(perturbation, GaussianPerturbation):
        raise TypeError("gaussian_surrogate_target needs a GaussianPerturbation")
    scale = perturbation.scale
    if perturbation.kernel == "lime":
        scale = 1.0 / math.sqrt(1.0 / scale**2 + 1.0 / perturbation.kernel_width**2)
    d = perturbation.n_features
    x = torch.as_tensor(x, dtype=torch.float64).reshape(1, d)
    generator = torch.Generator().manual_seed(int(seed))
    zs, ys = [], []
    for start in range(0, int(n_samples), chunk):
        z = scale * torch.randn(min(chunk, n_samples - start), d, generator=generator,
                                dtype=torch.float64)
        ys.append(np.asarray(query(perturbation.to_inputs(x, z.unsqueeze(0))[0]),
                             dtype=float).reshape(-1))
        zs.append(z.numpy())
    fit = weighted_least_squares(np.concatenate(zs), np.concatenate(ys), kind="HC0")
    return SurrogateTarget(fit.coef, float(fit.intercept), fit.se)
