"""Multiple imputation from the exact conditional of a fitted mixture of factor analysers
(LEX's ``"factor"`` and ``"factor_mixture"``): r x r algebra per row instead of d x d."""

from __future__ import annotations

import math

import numpy as np
import torch

from probex._checks import as_matrix
from probex.models.imputation_base import Imputation, _check_mixture_weights

__all__ = ["FactorMixtureImputation"]


class FactorMixtureImputation(Imputation):
    """Multiple imputation from the exact conditional of a mixture of factor analysers
    (K = 1: a factor-analysis Gaussian).

    Component k: x = mu_k + W_k h + e, h ~ N(0, I_r), e ~ N(0, diag(psi_k)). Given x_s,
    with r_k = S (x - mu_k) and P_k = I + W_k^T S Psi_k^{-1} W_k (one r x r Cholesky per
    row and component),

        log N(x_s; mu_ks, Sigma_k,ss) = -1/2 [r^T Psi^{-1} r - b^T P^{-1} b + log det P
                                              + sum_s log psi + |s| log 2 pi],
        b = W^T Psi^{-1} r  (Woodbury and the determinant lemma),

    P(k | x_s) propto w_k N(x_s; ...), and h | x_s, k ~ N(P^{-1} b, P^{-1}).

    Args:
        weights: (K,); means: (K, d); loadings: W, (K, d, r); noise_variance: psi,
            (K, d), positive. Unbatched (d,), (d, r), (d,) arrays give K = 1.
    """

    def __init__(self, weights, means, loadings, noise_variance):
        super().__init__()
        weights = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
        means = torch.as_tensor(means, dtype=torch.float64)
        loadings = torch.as_tensor(loadings, dtype=torch.float64)
        psi = torch.as_tensor(noise_variance, dtype=torch.float64)
        if means.ndim == 1:
            means, loadings, psi = means[None], loadings[None], psi[None]
        k, d = means.shape
        if (weights.shape != (k,) or loadings.ndim != 3 or loadings.shape[:2] != (k, d)
                or psi.shape != (k, d)):
            raise ValueError(f"inconsistent factor shapes: weights {tuple(weights.shape)}, "
                             f"means {tuple(means.shape)}, loadings {tuple(loadings.shape)}, "
                             f"noise_variance {tuple(psi.shape)}")
        _check_mixture_weights(weights)
        if float(psi.min()) <= 0:
            raise ValueError("noise_variance must be positive")
        self.register_buffer("weights", weights)
        self.register_buffer("means", means)
        self.register_buffer("loadings", loadings)
        self.register_buffer("noise_variance", psi)

    @classmethod
    def fit(cls, X, rank: int = 16, n_components: int = 1, ridge: float = 1e-3,
            seed: int = 0) -> FactorMixtureImputation:
        """Fit on rows X (N, d): scikit-learn's ``FactorAnalysis`` with ``rank`` factors
        for K = 1; for K > 1 the rows are first clustered by a diagonal Gaussian mixture
        and a factor analyser is fitted to each cluster (hard-assignment EM's first step).
        Noise variances are floored at ``ridge`` times the mean feature variance."""
        from sklearn.decomposition import FactorAnalysis
        from sklearn.mixture import GaussianMixture

        X = as_matrix(X, "X").cpu().numpy()
        if not 1 <= int(rank) <= X.shape[1]:
            raise ValueError(f"rank must be in 1..{X.shape[1]}, got {rank}")
        if int(n_components) < 1:
            raise ValueError(f"n_components must be a positive integer, got {n_components}")
        floor = ridge * float(max(X.var(axis=0).mean(), 1e-12))
        labels = np.zeros(X.shape[0], dtype=int)
        if n_components > 1:
            labels = GaussianMixture(int(n_components), covariance_type="diag",
                                     reg_covar=floor, random_state=int(seed)).fit_predict(X)
        weights, means, loadings, psi = [], [], [], []
        for k in np.unique(labels):
            members = X[labels == k]
            if members.shape[0] <= rank:  # too few rows for a factor model: skip the cluster
                continue
            fa = FactorAnalysis(int(rank), random_state=int(seed)).fit(members)
            weights.append(members.shape[0])
            means.append(fa.mean_)
            loadings.append(fa.components_.T)
            psi.append(np.maximum(fa.noise_variance_, floor))
        weights = np.asarray(weights, dtype=float)
        return cls(weights / weights.sum(), np.stack(means), np.stack(loadings),
                   np.stack(psi))

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def covariances(self) -> torch.Tensor:
        """Sigma_k = W_k W_k^T + diag(psi_k), (K, d, d)."""
        return (self.loadings @ self.loadings.transpose(-1, -2)
                + torch.diag_embed(self.noise_variance))

    def _posterior(self, x, mask):
        """Per component: Cholesky of P (K, B, r, r), posterior mean of h (K, B, r) and
        log N(x_s; mu_ks, Sigma_k,ss) (K, B)."""
        s = mask.to(torch.float64)
        inv_psi = s / self.noise_variance[:, None]  # S Psi^{-1}, (K, B, d)
        weighted = inv_psi[..., None] * self.loadings[:, None]  # (K, B, d, r)
        r = self.loadings.shape[-1]
        eye = torch.eye(r, dtype=torch.float64, device=x.device)
        precision = eye + self.loadings[:, None].transpose(-1, -2) @ weighted
        chol = torch.linalg.cholesky(precision)
        resid = s * (x.to(torch.float64) - self.means[:, None])  # (K, B, d)
        b = (weighted.transpose(-1, -2) @ resid[..., None])  # (K, B, r, 1)
        h_mean = torch.cholesky_solve(b, chol)
        quad = (resid.square() * inv_psi).sum(-1) - (b * h_mean).sum((-1, -2))
        logdet = (2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
                  + (s * torch.log(self.noise_variance[:, None])).sum(-1))
        log_marginal = -0.5 * (quad + logdet + s.sum(-1) * math.log(2 * math.pi))
        return chol, h_mean[..., 0], log_marginal

    def responsibilities(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """P(k | x_s) for rows x (B, d) and boolean masks (B, d): shape (B, K)."""
        _, _, log_marginal = self._posterior(x, mask)
        return torch.softmax(torch.log(self.weights)[:, None] + log_marginal, dim=0).T

    def conditional_moments(self, x: torch.Tensor, mask: torch.Tensor):
        """Mean (B, d) and covariance (B, d, d) of x_tilde given x_s, for K = 1 (selected
        entries equal x with zero variance)."""
        if self.n_components != 1:
            raise ValueError("closed-form conditional moments are given for K = 1 only")
        s = mask.to(torch.float64)
        chol, h_mean, _ = self._posterior(x, mask)
        w = self.loadings[0]
        mean = s * x.to(torch.float64) + (1 - s) * (self.means[0] + h_mean[0] @ w.T)
        w_chol = torch.linalg.solve_triangular(chol[0], w.T.expand(x.shape[0], *w.T.shape),
                                               upper=False)  # L^{-1} W^T, (B, r, d)
        cov = w_chol.transpose(-1, -2) @ w_chol + torch.diag(self.noise_variance[0])
        keep = (1 - s)[:, :, None] * (1 - s)[:, None, :]
        return mean, cov * keep

    def fill(self, x, mask, n_imputations):
        chol, h_mean, log_marginal = self._posterior(x, mask)
        b, d = x.shape
        r = self.loadings.shape[-1]
        logits = torch.log(self.weights)[:, None] + log_marginal  # (K, B)
        component = torch.distributions.Categorical(logits=logits.T).sample((n_imputations,))
        eta = torch.randn(n_imputations, b, r, 1, dtype=torch.float64, device=x.device)
        eps = torch.randn(n_imputations, b, d, dtype=torch.float64, device=x.device)
        out = torch.zeros_like(eps)
        for k in range(self.n_components):  # one pass per component keeps memory at (M, B, d)
            h = h_mean[k] + torch.linalg.solve_triangular(
                chol[k].transpose(-1, -2), eta, upper=True)[..., 0]  # N(P^-1 b, P^-1)
            draw = self.means[k] + h @ self.loadings[k].T + eps * self.noise_variance[k].sqrt()
            out = torch.where((component == k)[..., None], draw, out)
        return out
