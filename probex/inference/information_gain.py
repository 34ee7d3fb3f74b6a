"""Expected information gain of single candidates on the Bayesian linear surrogate.

Quantities here work on the conjugate posterior of the weighted-centred surrogate
(:class:`probex.inference.exact.NormalInverseGammaPosterior`); with sigma^2 at its
posterior estimate s^2 = b / a the coefficient covariance is Sigma = s^2 Lambda^{-1}.

Expected information gain (EAGLE; Chugh, Prasad & Shah, 2026). The surrogate integrates
its intercept out by weighted centring, so a new row (z, w) joins a design with weighted
mean z_bar and weight sum W as

    Lambda' = Lambda + w_eff u u^T,   u = z - z_bar,   w_eff = w W / (W + w),

(the centred scatter matrix grows by w_eff u u^T; z_bar then moves to (W z_bar + w z) /
(W + w)). The information the answer y carries about the coefficients phi is therefore

    EIG(z) = 1/2 log(1 + w_eff u^T Sigma u / sigma^2)                  (sigma^2 known),

which is the issue's 1/2 log(1 + w z^T Sigma z / sigma^2) with the centring made explicit.
With sigma^2 unknown (normal-inverse-gamma posterior with shape a) the same observation
also informs sigma^2, which phi's spread depends on, and Student-t entropies give

    EIG_NIG(z) = 1/2 log(1 + w_eff u^T Lambda^{-1} u) + K(a, d),

    K(a, d) = 1/2 [log(a + d/2) - log a + psi(a) - psi(a + d/2)] + c(2a) - c(2a + d),

c(nu) the scale-free part of a Student-t entropy (:func:`nig_information_offset`). K does
not depend on the candidate, so both versions rank candidates identically; it depends
only on the shape a, which grows by 1/2 per observation whatever y is, so a greedy batch's
joint EIG is exactly the sum of its sequential gains (chain rule).
"""

from __future__ import annotations

import math

import torch

from probex.inference.exact import NormalInverseGammaPosterior

__all__ = [
    "predictive_variance",
    "effective_weight",
    "expected_information_gain",
    "nig_information_offset",
    "nig_expected_information_gain",
]


def predictive_variance(covariance: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Variance of the surrogate's mean prediction at z: z^T Sigma z.

    ``covariance`` Sigma (p, p); ``z`` (m, p), already centred like the design. Returns (m,).
    BayesLIME's focused sampling draws candidates in proportion to this quantity.
    """
    return ((z @ covariance) * z).sum(-1)


def effective_weight(weights: torch.Tensor, weight_sum) -> torch.Tensor:
    """w_eff = w W / (W + w): a row's weight in the centred scatter matrix, (m,).

    ``weight_sum`` W of the design it joins (scalar); W = 0 gives 0 (the first row only
    fixes the intercept). ``weight_sum=None`` means W = infinity (no intercept): w_eff = w.
    """
    if weight_sum is None:
        return weights
    total = torch.as_tensor(weight_sum, dtype=weights.dtype, device=weights.device)
    return torch.where(total > 0, weights * total / (total + weights).clamp_min(1e-300),
                       torch.zeros_like(weights))


def expected_information_gain(covariance: torch.Tensor, z: torch.Tensor, weights: torch.Tensor,
                              noise_variance: float = 1.0, z_mean: torch.Tensor | None = None,
                              weight_sum=None) -> torch.Tensor:
    """EIG(z) = 1/2 log(1 + w_eff u^T Sigma u / sigma^2) in nats, one value per candidate.

    Args:
        covariance: Sigma (d, d), the current posterior covariance of the coefficients
            (pass Lambda^{-1} with ``noise_variance=1`` for the conjugate surrogate).
        z: candidates (m, d) in the interpretable representation.
        weights: their locality weights w (m,).
        noise_variance: sigma^2 of a row with weight 1.
        z_mean, weight_sum: z_bar (d,) and W of the current design; the candidates are
            centred at z_bar and weighted by w W / (W + w). Omit both for a model without
            an intercept (u = z, w_eff = w).
    """
    if (z_mean is None) != (weight_sum is None):
        raise ValueError("give both z_mean and weight_sum (centred surrogate) or neither")
    if z.ndim != 2 or z.shape[-1] != covariance.shape[-1] or weights.shape != z.shape[:1]:
        raise ValueError(f"expected z (m, {covariance.shape[-1]}) and weights (m,); got z "
                         f"{tuple(z.shape)}, weights {tuple(weights.shape)}")
    if noise_variance <= 0:
        raise ValueError(f"noise_variance must be positive, got {noise_variance}")
    u = z if z_mean is None else z - z_mean
    quad = predictive_variance(covariance, u).clamp_min(0.0)
    return 0.5 * torch.log1p(effective_weight(weights, weight_sum) * quad / noise_variance)


def _t_entropy_constant(df: torch.Tensor) -> torch.Tensor:
    """c(nu): entropy of a Student-t with nu degrees of freedom and unit scale."""
    half = 0.5 * df
    return ((half + 0.5) * (torch.special.digamma(half + 0.5) - torch.special.digamma(half))
            + 0.5 * torch.log(df) + torch.lgamma(half) + math.lgamma(0.5)
            - torch.lgamma(half + 0.5))


def nig_information_offset(shape, n_features: int) -> torch.Tensor:
    """K(a, d): what an observation tells about phi through sigma^2 (module docstring), nats.

    Equal to the EIG of a candidate with u^T Lambda^{-1} u = 0; positive, and O(d / a^2).
    """
    a = torch.as_tensor(shape, dtype=torch.float64)
    d = float(n_features)
    psi = torch.special.digamma
    return (0.5 * (torch.log(a + d / 2) - torch.log(a) + psi(a) - psi(a + d / 2))
            + _t_entropy_constant(2 * a) - _t_entropy_constant(2 * a + d))


def nig_expected_information_gain(posterior: NormalInverseGammaPosterior, z: torch.Tensor,
                                  weights: torch.Tensor, z_mean: torch.Tensor,
                                  weight_sum) -> torch.Tensor:
    """EIG about phi with sigma^2 unknown, under a single-instance NIG posterior, (m,).

    H(y) - E_phi H(y | phi) with y | data a Student-t (2a dof, scale^2 (b/a)(1/w_eff +
    u^T Lambda^{-1} u)) and y | phi, data a Student-t (2a + d dof, scale^2 (b + q/2) /
    ((a + d/2) w_eff)), q = (phi - m)^T Lambda (phi - m); since (q/2)/b ~ BetaPrime(d/2, a),
    E log(b + q/2) = log b + psi(a + d/2) - psi(a). The result does not depend on b.
    """
    if posterior.mean.ndim != 1:
        raise ValueError("nig_expected_information_gain takes a single-instance posterior")
    known = expected_information_gain(posterior.covariance_unit, z, weights, 1.0, z_mean,
                                      weight_sum)
    return known + nig_information_offset(posterior.shape, z.shape[-1]).to(known)

