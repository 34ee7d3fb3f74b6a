"""Importance sampling of a Gaussian neighbourhood towards a classifier's decision boundary.

SmoothGrad and C-LIME average over z ~ p = N(0, sigma^2 I). For a probability
f = s(L) (s the logistic function, L = log(f / (1 - f)) the logit of the explained
class) the gradient is grad f = s'(L) grad L, and where the model is saturated
(|L| >> 1 over most of the neighbourhood) s'(L) spans many orders of magnitude: with L
roughly linear, L(x + z) = m + b.z, the factor s'(L) ~ exp(-|L|) is close to log-normal
with log-sd sigma ||b||, so the mean is carried by rare draws (exponential tilting puts
the bulk of E[s'(L)] near t = sigma^2 ||b|| along u = b / ||b||, or at the boundary
L = 0), and plain sampling both misses it and reports a standard error that is far too
small.

The proposal here samples where the integrand is, under that linear logit model: along
u, t = u.z is drawn from

    q*(t) ∝ N(t; 0, sigma^2) s'(m + ||b|| t)

(tabulated on a grid, piecewise constant), the orthogonal part of z from
N(mu_perp, sigma^2 I) (mu_perp = 0, or a shift orthogonal to u learnt by an adaptive
scheme where the logit bends), and a defensive fraction alpha of the draws from p
(Hesterberg, 1995), so that the weights

    w(z) = p(z) / q(z) = p(z) / (alpha p(z) + (1 - alpha) q*(t) N(z_perp; mu_perp, sigma^2 I))

are bounded by 1 / alpha whatever the model gets wrong: E_q[w h] = E_p[h] exactly for
any h, and Var_q(w h) <= E_p[h^2] / alpha. The counts drawn from p and from q* are fixed
(deterministic mixture, balance-heuristic weights with the realised fraction), which
:func:`probex.inference.monte_carlo.monte_carlo_mean` treats as two strata. If the model
holds, w s'(L) b is nearly constant (at most Z ||b|| / (1 - alpha), Z = E_p[s'(L)]),
so the terms are light-tailed and their sample variance honest.

Draws can be antithetic in the orthogonal part: (t, xi) and (t, -xi) share t, and the
average of their two terms cancels what is odd in xi (the noise of the coordinates
orthogonal to b). Both members have the right distribution, so the pair mean is unbiased.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import logsumexp

__all__ = ["log_logistic_density", "probability_logit", "LogitModel", "TiltedDraws",
           "TiltedGaussian"]

_GRID = 4096          # cells of the tabulated q*
_BOUNDARY_GRID = 512  # extra cells around the decision boundary L = 0
_MAX_TILT = 60.0      # tilts beyond sigma ||b|| = 60 put no mass inside float range anyway
_INTEGRANDS = ("gradient", "stein")
_CLIP = (1e-300, 1.0 - 2.0**-52)  # probabilities that round to 0 or 1: logits -690 / 36


def log_logistic_density(logit) -> np.ndarray:
    """log s'(L) = log s(L) + log s(-L), computed stably for any L."""
    a = np.abs(np.asarray(logit, dtype=float))
    return -a - 2.0 * np.log1p(np.exp(-a))


def probability_logit(p) -> np.ndarray:
    """log(p / (1 - p)) of probabilities in [0, 1]; +-inf where p is exactly 1 or 0."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class LogitModel:
    """A linear model L(x + z) = offset + slope.z of the logit near x.

    Attributes:
        offset: m, the logit at x.
        slope: b (d,), logit per unit of z (input units).
    """

    offset: float
    slope: np.ndarray

    @property
    def usable(self) -> bool:
        """Finite with a non-zero slope (else no direction to tilt along)."""
        return bool(math.isfinite(self.offset) and np.all(np.isfinite(self.slope))
                    and np.linalg.norm(self.slope) > 0)

    @classmethod
    def from_gradient(cls, value: float, gradient) -> LogitModel:
        """From f(x) and grad f(x): m = logit f(x), b = grad f / (f (1 - f))."""
        value = float(value)
        scale = value * (1.0 - value)
        gradient = np.asarray(gradient, dtype=float)
        if not scale > 0:
            return cls(math.nan, np.full_like(gradient, math.nan))
        return cls(float(probability_logit(value)), gradient / scale)

    @classmethod
    def from_differences(cls, value: float, step_values, directions, step: float
                         ) -> LogitModel:
        """From f(x) and f(x + step v_k) along k orthonormal directions v_k (rows of
        ``directions`` (k, d)): b = sum_k (L(x + step v_k) - L(x)) / step v_k, the
        forward-difference slope projected on their span."""
        logits = probability_logit(np.clip(np.asarray(step_values, dtype=float), *_CLIP))
        offset = float(probability_logit(min(max(float(value), _CLIP[0]), _CLIP[1])))
        slope = ((logits - offset) / float(step)) @ np.asarray(directions, dtype=float)
        return cls(offset, slope)

    def mean_gradient(self, sigma: float, n_nodes: int = 120) -> np.ndarray:
        """E_p[grad s(L)] = E[s'(m + ||b|| sigma e)] b, e ~ N(0, 1): SmoothGrad of the
        model itself (Gauss-Hermite quadrature), (d,)."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(int(n_nodes))
        beta = float(np.linalg.norm(self.slope))
        density = np.exp(log_logistic_density(self.offset + beta * sigma * nodes))
        return float(density @ weights / math.sqrt(2.0 * math.pi)) * self.slope


@dataclass(frozen=True)
class TiltedDraws:
    """Draws of a :class:`TiltedGaussian`.

    Attributes:
        z: perturbations (n, d), n = n_units (or 2 n_units with antithetic pairs, the
            second half mirroring the first in the part orthogonal to the tilt).
        weights: importance weights p / q, (n,).
        strata: (n_units,) 0 for a unit drawn from p, 1 for one drawn from q*.
        antithetic: whether rows i and i + n_units form a pair.
    """

    z: torch.Tensor
    weights: torch.Tensor
    strata: np.ndarray
    antithetic: bool

    @property
    def n_units(self) -> int:
        return int(self.strata.shape[0])

    def unit_terms(self, row_terms: torch.Tensor) -> torch.Tensor:
        """Terms per unit (n_units, ...) from terms per row (n, ...): pair means."""
        if not self.antithetic:
            return row_terms
        half = self.n_units
        return 0.5 * (row_terms[:half] + row_terms[half:])


class TiltedGaussian:
    """The defensive tilted proposal of the module docstring, for p = N(0, sigma^2 I_d).

    Args:
        model: the :class:`LogitModel` whose direction and offset set the tilt.
        sigma: the noise scale of p (input units).
        defensive: alpha, the fraction of draws from p itself (0 < alpha < 1).
    """

    def __init__(self, model: LogitModel, sigma: float, defensive: float = 0.2,
                 shift=None, integrand: str = "gradient"):
        if not model.usable:
            raise ValueError("the logit model needs a finite offset and a non-zero slope")
        if not 0 < defensive < 1:
            raise ValueError(f"defensive must be in (0, 1), got {defensive}")
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.sigma, self.defensive = float(sigma), float(defensive)
        beta = float(np.linalg.norm(model.slope))
        self.direction = model.slope / beta
        shift = np.zeros_like(self.direction) if shift is None else np.asarray(shift, float)
        if shift.shape != self.direction.shape or not np.all(np.isfinite(shift)):
            raise ValueError(f"shift must be a finite ({self.direction.size},) vector")
        self.shift = shift - (shift @ self.direction) * self.direction  # orthogonal to u
        self.edges = _grid_edges(model.offset, beta, self.sigma)
        mid = 0.5 * (self.edges[1:] + self.edges[:-1])
        width = np.diff(self.edges)
        if integrand not in _INTEGRANDS:
            raise ValueError(f"integrand must be one of {_INTEGRANDS}, got {integrand!r}")
        log_shape = log_logistic_density(model.offset + beta * mid)
        if integrand == "stein":
            log_shape = np.logaddexp(log_shape, np.log(np.abs(mid) + 1e-300) - np.log(
                self.sigma**2 * beta) + _log_abs_logistic_difference(model.offset + beta * mid,
                                                                     model.offset))
        log_mass = -0.5 * (mid / self.sigma) ** 2 + log_shape + np.log(width)
        self.cell_mass = np.exp(log_mass - logsumexp(log_mass))
        self.cell_density = self.cell_mass / width

    def tilted_density(self, t) -> np.ndarray:
        """q*(t), piecewise constant on the grid, 0 outside it."""
        t = np.asarray(t, dtype=float)
        cell = np.searchsorted(self.edges, t, side="right") - 1
        inside = (cell >= 0) & (cell < self.cell_density.size)
        out = np.zeros_like(t)
        out[inside] = self.cell_density[cell[inside]]
        return out

    def weights(self, z, fraction_from_p: float | None = None) -> np.ndarray:
        """p(z) / (a p(z) + (1 - a) q*(z)) for perturbations z (n, d), a =
        ``fraction_from_p`` (default alpha); q*(z) = q*(t) N(z_perp; shift, sigma^2)."""
        a = self.defensive if fraction_from_p is None else float(fraction_from_p)
        z = np.asarray(z, dtype=float)
        t = z @ self.direction
        p = np.exp(-0.5 * (t / self.sigma) ** 2) / (self.sigma * math.sqrt(2.0 * math.pi))
        log_ratio = (z @ self.shift - 0.5 * self.shift @ self.shift) / self.sigma**2
        with np.errstate(over="ignore"):
            ratio = self.tilted_density(t) * np.exp(log_ratio)   # q*(z) / p(z_perp)
        return p / (a * p + (1.0 - a) * ratio)

    def sample(self, n_units: int, generator: torch.Generator, antithetic: bool = True
               ) -> TiltedDraws:
        """``n_units`` draws (pairs when ``antithetic``), round(alpha n_units) of them
        from p (at least 2, and at least 2 left for q*), the rest from q*."""
        n_units = int(n_units)
        if n_units < 4:
            raise ValueError(f"need at least 4 draws (2 per stratum), got {n_units}")
        n_p = min(max(int(round(self.defensive * n_units)), 2), n_units - 2)
        cells = torch.multinomial(torch.as_tensor(self.cell_mass), n_units - n_p,
                                  replacement=True, generator=generator).numpy()
        within = torch.rand(n_units - n_p, generator=generator, dtype=torch.float64).numpy()
        t_tilt = self.edges[cells] + within * (self.edges[cells + 1] - self.edges[cells])
        t_p = self.sigma * torch.randn(n_p, generator=generator, dtype=torch.float64).numpy()
        t = np.concatenate([t_p, t_tilt])
        d = self.direction.size
        xi = self.sigma * torch.randn(n_units, d, generator=generator, dtype=torch.float64)
        u = torch.as_tensor(self.direction)
        xi = xi - torch.outer(xi @ u, u)
        centre = torch.zeros(n_units, d, dtype=torch.float64)
        centre[n_p:] = torch.as_tensor(self.shift)
        t_tensor = torch.as_tensor(t)
        if antithetic:
            xi, t_tensor, centre = (torch.cat([xi, -xi]), torch.cat([t_tensor, t_tensor]),
                                    torch.cat([centre, centre]))
        z = centre + xi + torch.outer(t_tensor, u)
        weights = torch.as_tensor(self.weights(z.numpy(), n_p / n_units))
        strata = np.concatenate([np.zeros(n_p, dtype=int), np.ones(n_units - n_p, dtype=int)])
        return TiltedDraws(z, weights, strata, bool(antithetic))


def _log_cosh(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return a + np.log1p(np.exp(-2.0 * a)) - math.log(2.0)


def _log_abs_logistic_difference(a, b) -> np.ndarray:
    """log |s(a) - s(b)| = log |sinh((a - b) / 2)| - log 2 - log cosh(a/2) - log cosh(b/2),
    stable for any a, b (-inf where a = b)."""
    half = 0.5 * np.abs(np.asarray(a, dtype=float) - b)
    with np.errstate(divide="ignore"):
        log_sinh = half + np.log(-np.expm1(-2.0 * half)) - math.log(2.0)
    return log_sinh - math.log(2.0) - _log_cosh(0.5 * np.asarray(a)) - _log_cosh(0.5 * b)


def _grid_edges(offset: float, beta: float, sigma: float) -> np.ndarray:
    """Cell edges in t: a uniform grid over +-(tilt + 8) sigma, refined by a fine grid of
    +-20 / beta around the boundary t0 = -m / beta when it lies inside."""
    reach = (min(beta * sigma, _MAX_TILT) + 8.0) * sigma
    edges = np.linspace(-reach, reach, _GRID + 1)
    boundary = -offset / beta
    if -reach < boundary < reach:
        fine = np.linspace(boundary - 20.0 / beta, boundary + 20.0 / beta, _BOUNDARY_GRID + 1)
        edges = np.union1d(edges, np.clip(fine, -reach, reach))
    return edges
