"""Weighted least squares with a sandwich (heteroscedasticity- and misfit-robust) covariance.

A linear surrogate y ~ c + z.phi fitted by weighted least squares to n rows (z_i, y_i)
with weights w_i estimates the population coefficients

    phi* = argmin E[w (y - c - z.phi)^2]

whatever the black box is: misfit (a curved model) and unequal residual spread make the
residuals e_i = y_i - c - z_i.phi* vary with z_i, but the estimate stays consistent for
phi*. Its covariance is not the textbook s^2 (A^T W A)^-1 (which assumes one noise
variance), but the sandwich (White, 1980; Huber, 1967)

    V = (A^T W A)^-1 [ sum_i w_i^2 e~_i^2 a_i a_i^T ] (A^T W A)^-1,     a_i = (1, z_i),

with e~_i = e_i (HC0), e_i sqrt(n / (n - p)) (HC1) or e_i / (1 - h_i) (HC3, MacKinnon
& White, 1985), h_i = w_i a_i^T (A^T W A)^-1 a_i the leverage. HC3 approximates the
jackknife and is the least anti-conservative of the three in small samples; it is the
default. Mueller (2013, Econometrica 81) shows that under misspecification the
posterior N(phi_hat, V) (the "sandwich posterior") is what a Bayesian should report;
the weights may include importance weights p / q of rows drawn from a proposal q, so
that phi* is the fit over the target distribution p.

Shapes: z (..., n, d), y and weights (..., n), any leading batch dimensions; numpy or
torch in, numpy out (float64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["LeastSquaresFit", "weighted_least_squares"]

_KINDS = ("HC0", "HC1", "HC3")


@dataclass(frozen=True)
class LeastSquaresFit:
    """A weighted least-squares fit with its sandwich covariance.

    Attributes:
        coef: slopes phi_hat, (..., d).
        intercept: c_hat, (...).
        covariance: sandwich covariance of the slopes, (..., d, d).
        df: residual degrees of freedom n - d - 1 (for Student-t intervals).
        residuals: e, (..., n).
    """

    coef: np.ndarray
    intercept: np.ndarray
    covariance: np.ndarray
    df: int
    residuals: np.ndarray

    @property
    def se(self) -> np.ndarray:
        """Standard errors of the slopes, (..., d)."""
        return np.sqrt(np.clip(np.diagonal(self.covariance, axis1=-2, axis2=-1), 0, None))

    def interval(self, prob: float = 0.95) -> np.ndarray:
        """Central Student-t intervals of the slopes, (..., d, 2)."""
        if not 0 < prob < 1:
            raise ValueError(f"prob must be in (0, 1), got {prob}")
        half = stats.t.ppf(0.5 + prob / 2, max(self.df, 1)) * self.se
        return np.stack([self.coef - half, self.coef + half], axis=-1)


def _as_array(value, name: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def weighted_least_squares(z, y, weights=None, *, kind: str = "HC3") -> LeastSquaresFit:
    """Weighted least squares of y on (1, z) with the sandwich covariance ``kind``.

    Args:
        z: (..., n, d) regressors; y: (..., n) responses.
        weights: (..., n) non-negative row weights (locality and/or importance
            weights); ``None`` for ones.
        kind: ``"HC0"``, ``"HC1"`` or ``"HC3"`` (module docstring).
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    z, y = _as_array(z, "z"), _as_array(y, "y")
    if z.ndim < 2 or y.shape != z.shape[:-1]:
        raise ValueError(f"expected z (..., n, d) and y (..., n); got {z.shape}, {y.shape}")
    w = np.ones_like(y) if weights is None else _as_array(weights, "weights")
    if w.shape != y.shape or np.any(w < 0):
        raise ValueError(f"weights must be non-negative with y's shape {y.shape}")
    n, d = z.shape[-2:]
    if n <= d + 1:
        raise ValueError(f"need more rows than coefficients: n={n}, d + 1={d + 1}")
    design = np.concatenate([np.ones((*z.shape[:-1], 1)), z], axis=-1)      # (..., n, p)
    weighted = design * w[..., None]
    bread = np.linalg.inv(np.swapaxes(design, -1, -2) @ weighted)           # (..., p, p)
    beta = (bread @ (np.swapaxes(weighted, -1, -2) @ y[..., None]))[..., 0]
    residuals = y - (design @ beta[..., None])[..., 0]
    if kind == "HC3":
        leverage = np.einsum("...ip,...pq,...iq->...i", weighted, bread, design)
        scaled = residuals / np.clip(1.0 - leverage, 1e-12, None)
    elif kind == "HC1":
        scaled = residuals * np.sqrt(n / (n - d - 1))
    else:
        scaled = residuals
    score = weighted * scaled[..., None]                                      # (..., n, p)
    meat = np.swapaxes(score, -1, -2) @ score
    covariance = bread @ meat @ bread
    return LeastSquaresFit(coef=beta[..., 1:], intercept=beta[..., 0],
                           covariance=covariance[..., 1:, 1:], df=n - d - 1,
                           residuals=residuals)
