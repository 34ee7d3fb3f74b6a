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

__all__ = ["LeastSquaresFit", "least_squares_sandwich", "weighted_least_squares",
           "constrained_least_squares"]

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


def least_squares_sandwich(design, y, weights=None, *, kind: str = "HC3",
                           variance_factor=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of y on the columns of ``design`` (no intercept added):
    design (..., n, p), y and weights (..., n) -> (coefficients (..., p), sandwich
    covariance (..., p, p), residuals (..., n)).

    ``variance_factor`` (..., n) >= 1 multiplies each row's term of the meat, for rows
    whose score varies more than their own spread shows (e.g. picks from a shared
    candidate pool, :mod:`probex.inference.importance_design`)."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    design, y = _as_array(design, "design"), _as_array(y, "y")
    if design.ndim < 2 or y.shape != design.shape[:-1]:
        raise ValueError(f"expected design (..., n, p) and y (..., n); got {design.shape}, "
                         f"{y.shape}")
    w = np.ones_like(y) if weights is None else _as_array(weights, "weights")
    if w.shape != y.shape or np.any(w < 0):
        raise ValueError(f"weights must be non-negative with y's shape {y.shape}")
    n, p = design.shape[-2:]
    if n <= p:
        raise ValueError(f"need more rows than coefficients: n={n}, p={p}")
    weighted = design * w[..., None]
    bread = np.linalg.inv(np.swapaxes(design, -1, -2) @ weighted)           # (..., p, p)
    beta = (bread @ (np.swapaxes(weighted, -1, -2) @ y[..., None]))[..., 0]
    residuals = y - (design @ beta[..., None])[..., 0]
    if kind == "HC3":
        leverage = np.einsum("...ip,...pq,...iq->...i", weighted, bread, design)
        scaled = residuals / np.clip(1.0 - leverage, 1e-12, None)
    elif kind == "HC1":
        scaled = residuals * np.sqrt(n / (n - p))
    else:
        scaled = residuals
    score = weighted * scaled[..., None]                                      # (..., n, p)
    factored = score if variance_factor is None else score * _as_array(
        variance_factor, "variance_factor")[..., None]
    covariance = bread @ (np.swapaxes(factored, -1, -2) @ score) @ bread
    return beta, covariance, residuals


def weighted_least_squares(z, y, weights=None, *, kind: str = "HC3",
                           variance_factor=None) -> LeastSquaresFit:
    """Weighted least squares of y on (1, z) with the sandwich covariance ``kind``.

    Args:
        z: (..., n, d) regressors; y: (..., n) responses.
        weights: (..., n) non-negative row weights (locality and/or importance
            weights); ``None`` for ones.
        kind: ``"HC0"``, ``"HC1"`` or ``"HC3"`` (module docstring).
    """
    z = _as_array(z, "z")
    if z.ndim < 2:
        raise ValueError(f"expected z (..., n, d); got {z.shape}")
    design = np.concatenate([np.ones((*z.shape[:-1], 1)), z], axis=-1)
    beta, covariance, residuals = least_squares_sandwich(design, y, weights, kind=kind,
                                                         variance_factor=variance_factor)
    n, d = z.shape[-2:]
    return LeastSquaresFit(coef=beta[..., 1:], intercept=beta[..., 0],
                           covariance=covariance[..., 1:, 1:], df=n - d - 1,
                           residuals=residuals)


def constrained_least_squares(z, y, weights, anchors, anchor_values, *, kind: str = "HC3",
                              variance_factor=None) -> LeastSquaresFit:
    """Weighted least squares of y on (1, z) subject to c + a_k.phi = v_k exactly for
    each anchor row a_k (e.g. KernelSHAP's empty and full coalitions, which make the
    fit over its sampling distribution the Shapley values). One instance: z (n, d), y
    and weights (n,), anchors (k, d), anchor_values (k,).

    With theta = (c, phi) and the constraints C theta = v, theta = theta_0 + N gamma
    (theta_0 the least-norm solution, N an orthonormal basis of C's null space); gamma is
    the unconstrained fit of y - A theta_0 on A N, and Cov(theta) = N Cov(gamma) N^T.
    """
    z, y = _as_array(z, "z"), _as_array(y, "y")
    anchors = np.atleast_2d(_as_array(anchors, "anchors"))
    values = np.atleast_1d(_as_array(anchor_values, "anchor_values"))
    if z.ndim != 2 or anchors.shape[1:] != z.shape[1:] or values.shape != anchors.shape[:1]:
        raise ValueError(f"expected z (n, d), anchors (k, d), anchor_values (k,); got "
                         f"{z.shape}, {anchors.shape}, {values.shape}")
    design = np.c_[np.ones(z.shape[0]), z]
    constraint = np.c_[np.ones(anchors.shape[0]), anchors]
    theta0 = np.linalg.lstsq(constraint, values, rcond=None)[0]
    _, singular, vt = np.linalg.svd(constraint)
    rank = int(np.sum(singular > 1e-10 * singular[0]))
    null = vt[rank:].T                                                        # (p, p - rank)
    gamma, cov_gamma, residuals = least_squares_sandwich(
        design @ null, y - design @ theta0, weights, kind=kind,
        variance_factor=variance_factor)
    theta = theta0 + null @ gamma
    covariance = null @ cov_gamma @ null.T
    return LeastSquaresFit(coef=theta[1:], intercept=theta[0], covariance=covariance[1:, 1:],
                           df=z.shape[0] - null.shape[1], residuals=residuals)
