"""Closed-form posterior of the weighted Gaussian linear model with a conjugate prior.

Model (all shapes may carry leading batch dimensions ``...``):

    sigma^2        ~ InverseGamma(a0, b0)
    beta | sigma^2 ~ Normal(m0, sigma^2 Lambda0^{-1})            (p coefficients)
    y_i            ~ Normal(x_i^T beta, sigma^2 / w_i),  i = 1..N

Posterior (e.g. Murphy, "Conjugate Bayesian analysis of the Gaussian distribution",
Sec. 7.6, with weights):

    Lambda_n = Lambda0 + X^T W X
    m_n      = Lambda_n^{-1} (Lambda0 m0 + X^T W y)
    a_n      = a0 + (N - k) / 2
    b_n      = b0 + 1/2 [(y - X m_n)^T W (y - X m_n) + (m_n - m0)^T Lambda0 (m_n - m0)]

where k is the number of flat-prior location parameters integrated out beforehand (k = 1
for an intercept removed by weighted centring). The marginal posterior of beta is a
multivariate Student-t with 2 a_n degrees of freedom, location m_n and scale matrix
(b_n / a_n) Lambda_n^{-1}.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from scipy import stats

__all__ = ["NormalInverseGammaPosterior"]


@dataclass(frozen=True)
class NormalInverseGammaPosterior:
    """Normal-inverse-gamma distribution over (beta, sigma^2).

    Attributes:
        mean: m, (..., p).
        precision: Lambda (precision of beta in units of 1 / sigma^2), (..., p, p).
        shape: a, (...,).
        rate: b, (...,).
    """

    mean: torch.Tensor
    precision: torch.Tensor
    shape: torch.Tensor
    rate: torch.Tensor

    @classmethod
    def prior(cls, n_coefficients: int, scale: float = 1.0, shape: float = 1.0,
              rate: float = 1e-3, batch_shape=(), dtype=torch.float64, device=None
              ) -> NormalInverseGammaPosterior:
        """The prior m0 = 0, Lambda0 = I / scale^2, a0 = shape, b0 = rate."""
        eye = torch.eye(n_coefficients, dtype=dtype, device=device) / scale**2
        return cls(
            mean=torch.zeros(*batch_shape, n_coefficients, dtype=dtype, device=device),
            precision=eye.expand(*batch_shape, n_coefficients, n_coefficients).clone(),
            shape=torch.full(batch_shape, float(shape), dtype=dtype, device=device),
            rate=torch.full(batch_shape, float(rate), dtype=dtype, device=device),
        )

    def update(self, X: torch.Tensor, y: torch.Tensor, weights: torch.Tensor,
               n_marginalized: int = 0) -> NormalInverseGammaPosterior:
        """Condition on weighted observations: X (..., N, p), y and weights (..., N)."""
        Xw = X * weights.unsqueeze(-1)
        precision = self.precision + X.transpose(-1, -2) @ Xw
        prior_term = (self.precision @ self.mean.unsqueeze(-1)).squeeze(-1)
        rhs = prior_term + (Xw * y.unsqueeze(-1)).sum(-2)
        chol = torch.linalg.cholesky(precision)
        mean = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
        # elementwise products reduced over the last axis, not batched matrix-vector
        # products: each instance's numbers then do not depend on how many instances
        # share the batch (bit for bit), which chunked data-set runs rely on
        residual = y - (X * mean.unsqueeze(-2)).sum(-1)
        shift = mean - self.mean
        prior_shift = (self.precision * shift.unsqueeze(-2)).sum(-1)
        quad = (weights * residual.pow(2)).sum(-1) + (shift * prior_shift).sum(-1)
        n_obs = X.shape[-2] - n_marginalized
        return NormalInverseGammaPosterior(
            mean=mean, precision=precision, shape=self.shape + 0.5 * n_obs,
            rate=self.rate + 0.5 * quad,
        )

    # ------------------------------------------------------------------ marginals
    @cached_property
    def covariance_unit(self) -> torch.Tensor:
        """Lambda^{-1}: covariance of beta given sigma^2 = 1, (..., p, p) (computed once;
        the posterior is immutable)."""
        return torch.cholesky_inverse(torch.linalg.cholesky(self.precision))

    @property
    def df(self) -> torch.Tensor:
        """Degrees of freedom 2a of beta's Student-t marginal, (...,)."""
        return 2.0 * self.shape

    @property
    def marginal_scale(self) -> torch.Tensor:
        """Per-coefficient scale of the Student-t marginal, sqrt(b/a * diag(Lambda^{-1}))."""
        diag = torch.diagonal(self.covariance_unit, dim1=-2, dim2=-1)
        return (diag * (self.rate / self.shape).unsqueeze(-1)).sqrt()

    @property
    def marginal_sd(self) -> torch.Tensor:
        """Posterior standard deviation of each coefficient (needs a > 1), (..., p)."""
        if bool((self.shape <= 1).any()):
            raise ValueError("the marginal variance is infinite for shape a <= 1")
        diag = torch.diagonal(self.covariance_unit, dim1=-2, dim2=-1)
        return (diag * (self.rate / (self.shape - 1)).unsqueeze(-1)).sqrt()

    @property
    def noise_variance_mean(self) -> torch.Tensor:
        """E[sigma^2 | data] = b / (a - 1), (...,)."""
        return self.rate / (self.shape - 1)

    def interval(self, prob: float = 0.95) -> np.ndarray:
        """Central (= highest-density) interval of each coefficient, (..., p, 2)."""
        if not 0 < prob < 1:
            raise ValueError(f"prob must be in (0, 1), got {prob}")
        q = stats.t.ppf(0.5 + prob / 2, self.df.cpu().numpy())
        loc = self.mean.cpu().numpy()
        half = np.asarray(q)[..., None] * self.marginal_scale.cpu().numpy()
        return np.stack([loc - half, loc + half], axis=-1)

    # ------------------------------------------------------------------ draws
    def sample(self, num_draws: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Independent draws (sigma (num_draws, ...), beta (num_draws, ..., p)).

        sigma^2 = b / G with G ~ Gamma(a, 1); beta = m + sigma L^{-T} e, with
        Lambda = L L^T and e ~ N(0, I).
        """
        generator = torch.Generator().manual_seed(int(seed))
        rng = np.random.default_rng(int(seed))
        shape = (num_draws, *self.shape.shape)
        gamma = rng.gamma(self.shape.cpu().numpy(), size=shape)
        gamma = torch.as_tensor(gamma, dtype=self.rate.dtype, device=self.rate.device)
        variance = self.rate / gamma
        noise_scale = variance.sqrt()
        chol = torch.linalg.cholesky(self.precision)
        eps = torch.randn((*shape, self.mean.shape[-1]), generator=generator,
                          dtype=self.mean.dtype).to(self.mean.device)
        # solve L^T u = e  =>  u ~ N(0, Lambda^{-1}); one solve with the draws as columns
        columns = eps.movedim(0, -1)  # (..., p, num_draws)
        u = torch.linalg.solve_triangular(chol.transpose(-1, -2), columns,
                                          upper=True).movedim(-1, 0)
        return noise_scale, self.mean + noise_scale.unsqueeze(-1) * u
