"""Experimental design on the Bayesian linear surrogate: where to query next, and how many.

Quantities here work on the conjugate posterior of the weighted-centred surrogate
(:class:`probex.inference.exact.NormalInverseGammaPosterior`); with sigma^2 at its
posterior estimate s^2 = b / a the coefficient covariance is Sigma = s^2 Lambda^{-1}.

This module holds what concerns a whole design: the perturbations needed for a target
interval width, the information a weighted design carries, its radius and the O(d log t)
bound (EAGLE's theorems), and the credible region's diameter. The expected information
gain of single candidates lives in :mod:`probex.inference.information_gain` and the
greedy batch with rank-one updates in :mod:`probex.inference.greedy_design`; both are
importable from here as well.
"""

from __future__ import annotations

import math

import torch
from scipy import special, stats

from probex.inference.exact import NormalInverseGammaPosterior
from probex.inference.greedy_design import (
    BatchSelection,
    DesignState,
    OnlineSurrogatePosterior,
    greedy_batch,
)
from probex.inference.information_gain import (
    effective_weight,
    expected_information_gain,
    nig_expected_information_gain,
    nig_information_offset,
    predictive_variance,
)

__all__ = [
    "predictive_variance",
    "perturbations_to_goal",
    "effective_weight",
    "expected_information_gain",
    "nig_information_offset",
    "nig_expected_information_gain",
    "DesignState",
    "OnlineSurrogatePosterior",
    "BatchSelection",
    "greedy_batch",
    "design_information_gain",
    "design_radius",
    "information_gain_bound",
    "credible_region_diameter",
]


def perturbations_to_goal(covariance_unit: torch.Tensor, n_observations: int,
                          noise_variance: float, target_width: float, prob: float = 0.95,
                          df: float | None = None) -> int:
    """Perturbations needed for every central ``prob`` interval to be narrower than
    ``target_width`` (the "perturbations-to-goal" of Slack et al., 2021, Sec. 4.1).

    With N perturbations drawn like the current ones, the information matrix grows like
    N M, where M = Lambda_data / N_now is the information per perturbation, so the
    variance of coefficient j is about s^2 [M^{-1}]_jj / N. The interval width
    2 q s sqrt([M^{-1}]_jj / N) is below W when

        N >= 4 q^2 s^2 max_j [M^{-1}]_jj / W^2,

    q the (Student-t or normal) quantile of ``prob``. For uniform binary masks
    M = mean(pi) / 4 I and this is BayesLIME's G = 4 s^2 q^2 / (mean(pi) (W/2)^2)
    stated with the full width W.

    Args:
        covariance_unit: Lambda^{-1} of the current posterior (precision in units of
            1 / sigma^2, data and prior), (p, p).
        n_observations: perturbations behind it, N_now.
        noise_variance: s^2.
        target_width: W, in output units.
        prob: interval probability.
        df: Student-t degrees of freedom for q; ``None`` uses the normal quantile.
    """
    if target_width <= 0:
        raise ValueError(f"target_width must be positive, got {target_width}")
    if not 0 < prob < 1:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    q = stats.norm.ppf(0.5 + prob / 2) if df is None else stats.t.ppf(0.5 + prob / 2, df)
    per_observation = float(torch.diagonal(covariance_unit).max()) * n_observations
    return int(math.ceil(4.0 * q**2 * noise_variance * per_observation / target_width**2))


# ---------------------------------------------------------------------- whole designs
def _centred_scatter_prefixes(z: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """S_t = sum_{i<=t} w_i (z_i - z_bar_t)(z_i - z_bar_t)^T for every prefix t, (n, d, d)."""
    W = weights.cumsum(0)
    first = (weights.unsqueeze(-1) * z).cumsum(0)
    second = (weights[:, None, None] * z.unsqueeze(-1) * z.unsqueeze(-2)).cumsum(0)
    mean = first / W.unsqueeze(-1)
    return second - W[:, None, None] * mean.unsqueeze(-1) * mean.unsqueeze(-2)


def design_information_gain(z, weights, prior_scale: float = 1.0, cumulative: bool = False
                            ) -> torch.Tensor:
    """Information about phi in a weighted design, sigma^2 known: 1/2 log det(I + s0^2 S).

    S is the weighted-centred scatter matrix of the rows (the intercept integrated out)
    and s0 the prior standard deviation of a coefficient in units of sigma (the
    NormalInverseGamma prior's ``scale``). Equals the sum of the sequential EIGs of the
    rows in any order. ``z`` (n, d), ``weights`` (n,); with ``cumulative`` the gain after
    each of the first t rows, (n,); else a 0-dim tensor.
    """
    z = torch.as_tensor(z, dtype=torch.float64)
    weights = torch.as_tensor(weights, dtype=torch.float64)
    if z.ndim != 2 or weights.shape != z.shape[:1]:
        raise ValueError(f"expected z (n, d) and weights (n,); got {tuple(z.shape)}, "
                         f"{tuple(weights.shape)}")
    if not bool((weights > 0).all()):
        raise ValueError("locality weights must all be positive")
    if cumulative:
        scatter = _centred_scatter_prefixes(z, weights)
    else:
        zc = z - (weights.unsqueeze(-1) * z).sum(0) / weights.sum()
        scatter = zc.T @ (weights.unsqueeze(-1) * zc)
    eye = torch.eye(z.shape[-1], dtype=z.dtype)
    return 0.5 * torch.linalg.slogdet(eye + prior_scale**2 * scatter)[1]


def design_radius(z, weights, center=None, cumulative: bool = False) -> torch.Tensor:
    """R = max_i sqrt(w_i) ||z_i - c||, the radius in :func:`information_gain_bound`.

    ``center`` c (d,) defaults to 0, the instance itself for Gaussian perturbations; use
    the all-ones mask for mask perturbations. Any fixed c is valid, since centring at
    the weighted mean can only shrink the scatter's trace. For the LIME kernel of width
    nu, sqrt(w) r = r exp(-r^2 / (4 nu^2)) <= nu sqrt(2 / e) whatever the rows.
    ``cumulative`` gives the running maximum over the first t rows, (n,).
    """
    z = torch.as_tensor(z, dtype=torch.float64)
    weights = torch.as_tensor(weights, dtype=torch.float64)
    c = torch.zeros(z.shape[-1], dtype=z.dtype) if center is None else torch.as_tensor(
        center, dtype=z.dtype)
    norms = weights.sqrt() * (z - c).norm(dim=-1)
    return torch.cummax(norms, 0).values if cumulative else norms.max()


def information_gain_bound(t, n_features: int, radius: float, noise_variance: float = 1.0):
    """(d/2) log(1 + t R^2 / (d sigma^2)): no design of t rows with sqrt(w) ||z - c|| <= R
    gives more information about phi (EAGLE's O(d log t) bound).

    Proof: 1/2 log det(I + S / sigma^2) <= (d/2) log(tr(I + S / sigma^2) / d) (AM-GM on
    the eigenvalues) and tr S = sum_i w_i ||z_i - z_bar||^2 <= sum_i w_i ||z_i - c||^2 <=
    t R^2. Here sigma^2 is the noise variance in units of a coefficient's prior variance
    (1 / scale^2 for the NormalInverseGamma prior). ``t`` scalar or array.
    """
    t = torch.as_tensor(t, dtype=torch.float64)
    return 0.5 * n_features * torch.log1p(t * radius**2 / (n_features * noise_variance))


def credible_region_diameter(posterior: NormalInverseGammaPosterior, prob: float = 0.95
                             ) -> torch.Tensor:
    """Diameter of the joint ``prob`` credible ellipsoid of all d attributions, (...,).

    Under the NIG posterior (phi - m)^T Lambda (phi - m) / (d b / a) ~ F(d, 2a), so the
    region {q <= d (b/a) F_prob} has largest diameter 2 sqrt(d (b/a) F_prob / lambda_min).
    For large a, d F_prob -> chi^2_d(prob) <= 2d + 3 log(1/delta): the queries needed to
    shrink it below eps grow linearly in d and logarithmically in 1/delta (EAGLE's sample
    complexity).
    """
    if not 0 < prob < 1:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    d = posterior.mean.shape[-1]
    quantile = special.fdtri(d, posterior.df.cpu().numpy(), prob)
    radius_sq = (d * torch.as_tensor(quantile, dtype=posterior.rate.dtype)
                 * (posterior.rate / posterior.shape).cpu())
    smallest = torch.linalg.eigvalsh(posterior.precision).cpu()[..., 0]
    return 2.0 * (radius_sq / smallest).sqrt()
