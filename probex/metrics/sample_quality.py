"""Quality of a perturbation sample: how local it is and how much it tells the surrogate.

- :func:`mean_locality_weight`: the mean kernel weight pi(z) of the rows (1: every row as
  close to the instance as the instance itself; near 0: the queries were spent far away).
- :func:`design_log_determinant`: log det(I + s0^2 S), S the weighted-centred scatter
  matrix of the rows (the information matrix of the surrogate's coefficients with the
  intercept integrated out, in units of 1 / sigma^2) and s0 the prior scale; twice the
  information about the attributions the sample gathered (nats), so samples of equal size
  compare directly.
- :func:`sample_quality`: both, read from an Explanation's stored perturbations.
"""

from __future__ import annotations

import numpy as np
import torch

from probex.inference.design import design_information_gain

__all__ = ["mean_locality_weight", "design_log_determinant", "sample_quality"]


def _weights(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim < 1 or w.size == 0:
        raise ValueError("weights must be a non-empty array (..., n)")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("locality weights must be finite and non-negative")
    return w


def mean_locality_weight(weights) -> float | np.ndarray:
    """Mean of the locality weights over the last axis: a float for (n,), else (...,)."""
    mean = _weights(weights).mean(-1)
    return float(mean) if np.ndim(mean) == 0 else mean


def design_log_determinant(z, weights, prior_scale: float = 1.0) -> float | np.ndarray:
    """log det(I + s0^2 S) of a weighted design, z (..., n, d) and weights (..., n).

    S = sum_i w_i (z_i - z_bar)(z_i - z_bar)^T with z_bar the weighted mean; equal to
    2 x :func:`probex.inference.design.design_information_gain`.
    """
    z = np.asarray(z, dtype=float)
    w = _weights(weights)
    if z.ndim < 2 or z.shape[:-1] != w.shape:
        raise ValueError(f"z must be (..., n, d) with weights (..., n); got {z.shape}, {w.shape}")
    if not np.isfinite(z).all():
        raise ValueError("z contains NaN or infinite values")
    if not prior_scale > 0:
        raise ValueError(f"prior_scale must be positive, got {prior_scale}")
    flat_z = z.reshape(-1, *z.shape[-2:])
    flat_w = w.reshape(-1, w.shape[-1])
    values = np.array([2.0 * float(design_information_gain(torch.from_numpy(zi),
                                                           torch.from_numpy(wi), prior_scale))
                       for zi, wi in zip(flat_z, flat_w, strict=True)])
    values = values.reshape(z.shape[:-2])
    return float(values) if values.ndim == 0 else values


def sample_quality(explanation, prior_scale: float = 1.0) -> dict:
    """``{"mean_weight", "log_det", "n"}`` of the perturbations stored in a surrogate
    explanation (constant data ``z`` and ``weights``), one instance at a time."""
    if explanation.is_batch:
        raise TypeError("sample_quality is per instance: use e[i]")
    const = explanation.idata.constant_data
    if "z" not in const or "weights" not in const:
        raise ValueError("this explanation stores no perturbations (constant data z, weights)")
    z, weights = const["z"].values, const["weights"].values
    return {"mean_weight": mean_locality_weight(weights),
            "log_det": design_log_determinant(z, weights, prior_scale),
            "n": int(weights.shape[-1])}
