"""Experimental design on the Bayesian linear surrogate: where to query next, and how many.

Quantities here work on the conjugate posterior of the weighted-centred surrogate
(:class:`probex.inference.exact.NormalInverseGammaPosterior`); with sigma^2 at its
posterior estimate s^2 = b / a the coefficient covariance is Sigma = s^2 Lambda^{-1}.
"""

from __future__ import annotations

import math

import torch
from scipy import stats

__all__ = ["predictive_variance", "perturbations_to_goal"]


def predictive_variance(covariance: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Variance of the surrogate's mean prediction at z: z^T Sigma z.

    ``covariance`` Sigma (p, p); ``z`` (m, p), already centred like the design. Returns (m,).
    BayesLIME's focused sampling draws candidates in proportion to this quantity.
    """
    return ((z @ covariance) * z).sum(-1)


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
