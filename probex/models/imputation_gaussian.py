"""Multiple imputation from the conditional of a fitted Gaussian or Gaussian mixture
(LEX's ``"gaussian"`` and ``"gmm"``), drawn with Matheron's rule; see
:mod:`probex.models.imputation` for the conditional and the rule."""

from __future__ import annotations

import math

import numpy as np
import torch

from probex._checks import as_matrix
from probex.models.imputation_base import Imputation, _check_mixture_weights

__all__ = ["GaussianMixtureImputation"]


class GaussianMixtureImputation(Imputation):
    """Multiple imputation from the conditional of a Gaussian mixture (K = 1: a Gaussian).

    Args:
        weights: (K,) mixture weights; means: (K, d); covariances: (K, d, d), positive
            definite.
    """

    def __init__(self, weights, means, covariances):
        super().__init__()
        weights = torch.as_tensor(weights, dtype=torch.float64)
        means = torch.as_tensor(means, dtype=torch.float64)
        covariances = torch.as_tensor(covariances, dtype=torch.float64)
        k, d = means.shape
        if weights.shape != (k,) or covariances.shape != (k, d, d):
            raise ValueError(f"inconsistent mixture shapes: weights {tuple(weights.shape)}, "
                             f"means {tuple(means.shape)}, covariances "
                             f"{tuple(covariances.shape)}")
        _check_mixture_weights(weights)
        chol, info = torch.linalg.cholesky_ex(covariances)
        if int(info.max()) != 0:
            raise ValueError("every covariance must be positive definite")
        self.register_buffer("weights", weights)
        self.register_buffer("means", means)
        self.register_buffer("covariances", covariances)
        self.register_buffer("chol", chol)

    @classmethod
    def fit(cls, X, n_components: int = 1, ridge: float = 1e-3, seed: int = 0
            ) -> GaussianMixtureImputation:
        """Fit on training rows X (N, d): the sample mean and covariance for K = 1, else
        scikit-learn's ``GaussianMixture`` (full covariances). ``ridge`` (times the mean
        feature variance) is added to every covariance diagonal, keeping constant
        features (e.g. blank pixels) conditionable."""
        X = as_matrix(X, "X").cpu().numpy()
        if int(n_components) < 1:
            raise ValueError(f"n_components must be a positive integer, got {n_components}")
        scale = float(max(X.var(axis=0).mean(), 1e-12))
        if n_components == 1:
            cov = np.cov(X, rowvar=False, bias=True).reshape(X.shape[1], X.shape[1])
            cov = cov + ridge * scale * np.eye(X.shape[1])
            return cls(np.ones(1), X.mean(0)[None], cov[None])
        from sklearn.mixture import GaussianMixture

        gmm = GaussianMixture(int(n_components), covariance_type="full",
                              reg_covar=ridge * scale, random_state=int(seed), n_init=1)
        gmm.fit(X)
        return cls(gmm.weights_ / gmm.weights_.sum(), gmm.means_, gmm.covariances_)

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def _conditioned(self, x: torch.Tensor, mask: torch.Tensor):
        """Per component: Cholesky of A = S Sigma S + (I - S) and log N(x_s; mu_s, Sigma_ss).

        Returns (chol_A (K, B, d, d), log_marginal (K, B)).
        """
        s = mask.to(torch.float64)
        a = s[None, :, :, None] * self.covariances[:, None] * s[None, :, None, :]
        a = a + torch.diag_embed(1 - s)[None]
        chol_a = torch.linalg.cholesky(a)
        resid = (s * (x.to(torch.float64)[None] - self.means[:, None]))[..., None]
        solved = torch.linalg.solve_triangular(chol_a, resid, upper=False)
        quad = solved.square().sum((-1, -2))
        logdet = 2 * torch.log(torch.diagonal(chol_a, dim1=-2, dim2=-1)).sum(-1)
        log_marginal = -0.5 * (quad + logdet + s.sum(-1)[None] * math.log(2 * math.pi))
        return chol_a, log_marginal

    def responsibilities(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """P(k | x_s) for rows x (B, d) and boolean masks (B, d): shape (B, K)."""
        _, log_marginal = self._conditioned(x, mask)
        logits = torch.log(self.weights)[:, None] + log_marginal
        return torch.softmax(logits, dim=0).T

    def conditional_moments(self, x: torch.Tensor, mask: torch.Tensor):
        """Mean (B, d) and covariance (B, d, d) of x_tilde given x_s, for K = 1 (selected
        entries equal x with zero variance)."""
        if self.n_components != 1:
            raise ValueError("closed-form conditional moments are given for K = 1 only")
        s = mask.to(torch.float64)
        x64 = x.to(torch.float64)
        chol_a, _ = self._conditioned(x, mask)
        sigma = self.covariances[0]
        # Sigma S A^{-1} S (x - mu)  and  Sigma S A^{-1} S Sigma
        gain_rhs = torch.cholesky_solve((s * (x64 - self.means[0]))[..., None], chol_a[0])
        mean = self.means[0] + (sigma @ (s[..., None] * gain_rhs))[..., 0]
        mean = s * x64 + (1 - s) * mean
        sigma_s = s[:, :, None] * sigma  # S Sigma, (B, d, d)
        cov = sigma - sigma_s.transpose(-1, -2) @ torch.cholesky_solve(sigma_s, chol_a[0])
        keep = (1 - s)[:, :, None] * (1 - s)[:, None, :]
        return mean, cov * keep

    def fill(self, x, mask, n_imputations):
        b, d = x.shape
        s = mask.to(torch.float64)
        x64 = x.to(torch.float64)
        chol_a, log_marginal = self._conditioned(x, mask)
        logits = torch.log(self.weights)[:, None] + log_marginal  # (K, B)
        component = torch.distributions.Categorical(logits=logits.T).sample((n_imputations,))
        eps = torch.randn(n_imputations, b, d, dtype=torch.float64, device=x.device)
        out = torch.zeros_like(eps)
        for k in range(self.n_components):  # one pass per component keeps memory at (M, B, d)
            prior_draw = self.means[k] + eps @ self.chol[k].T  # x* ~ N(mu_k, Sigma_k)
            solved = torch.cholesky_solve((s * (x64 - prior_draw))[..., None], chol_a[k])
            draw = prior_draw + (s * solved[..., 0]) @ self.covariances[k]  # Matheron's rule
            out = torch.where((component == k)[..., None], draw, out)
        return out
