"""A saturating classifier whose SmoothGrad is known to quadrature accuracy (test helper).

The logit depends on a 2-D projection v = P a of the input (P orthonormal rows):

    L(a) = K (v1 + 0.4 tanh(1.5 v2) + 0.15 v1 v2),    f(a) = s(L(a)),

curved in both directions and, with K = 7 and sigma = 0.5, saturated: the logit spread
over the noise is sigma ||grad L|| ~ 3.8, so most of E[grad f(x + z)] comes from draws
several standard deviations away (the log-normal regime of a trained network). Since
P z ~ N(0, sigma^2 I_2), phi(x) = P^T E[s'(L) grad_v L] is a 2-D Gaussian integral,
computed by the trapezoid rule on a fine grid (independently of any sampler).
"""

from __future__ import annotations

import numpy as np
import torch

N_FEATURES, SIGMA, SHARPNESS = 6, 0.5, 7.0
PROJECTION = torch.linalg.qr(torch.randn(N_FEATURES, 2, generator=torch.Generator()
                                         .manual_seed(3), dtype=torch.float64))[0].T


def _logit(v1, v2, lib):
    return SHARPNESS * (v1 + 0.4 * lib.tanh(1.5 * v2) + 0.15 * v1 * v2)


class ProjectedNet(torch.nn.Module):
    """(n, 6) float64 inputs -> two-class logits (0, L)."""

    def __init__(self):
        super().__init__()
        self.projection = torch.nn.Parameter(PROJECTION.clone(), requires_grad=False)

    def forward(self, a):
        v = a @ self.projection.T
        logit = _logit(v[:, 0], v[:, 1], torch)
        return torch.stack([torch.zeros_like(logit), logit], 1)


def instances() -> np.ndarray:
    """Six instances whose logits run from -10.5 to 15.1, (6, 6)."""
    v1 = torch.tensor([-1.6, -0.8, -0.25, 0.4, 1.1, 1.9], dtype=torch.float64)
    v = torch.stack([v1, torch.full_like(v1, 0.3)], 1)
    return (v @ PROJECTION).numpy()


def smoothgrad_truth(x, n_grid: int = 1601, reach: float = 9.0) -> np.ndarray:
    """phi(x) = E[grad s(L(x + z))], z ~ N(0, SIGMA^2 I), by 2-D quadrature, (6,)."""
    v0 = (PROJECTION @ torch.as_tensor(x, dtype=torch.float64)).numpy()
    e = np.linspace(-reach, reach, n_grid)
    e1, e2 = np.meshgrid(e, e, indexing="ij")
    v1, v2 = v0[0] + SIGMA * e1, v0[1] + SIGMA * e2
    a = np.abs(_logit(v1, v2, np))
    density = np.exp(-a - 2.0 * np.log1p(np.exp(-a)))                  # s'(L)
    d1 = SHARPNESS * (1.0 + 0.15 * v2)
    d2 = SHARPNESS * (0.6 / np.cosh(1.5 * v2) ** 2 + 0.15 * v1)
    gauss = np.exp(-0.5 * (e1**2 + e2**2)) / (2.0 * np.pi) * (e[1] - e[0]) ** 2
    grad_v = np.array([np.sum(gauss * density * d1), np.sum(gauss * density * d2)])
    return PROJECTION.numpy().T @ grad_v
