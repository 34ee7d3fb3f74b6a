"""Imputation models of LEX: x_tilde ~ p_iota(. | x_z, z) fills the unselected features.

Given an instance x (d,) and a mask z (1 = selected), every imputation returns

    x_tilde = z * x + (1 - z) * u,     u ~ p_iota(u | x_z, z)

so the selected features are kept and the others replaced (Senetaire et al., 2023,
Sec. 3.2). For a relaxed mask z in (0, 1) the conditioning set is the hard mask z > 0.5
and the blend above carries the gradient. Families:

* :class:`ConstantImputation`: u = c, a constant vector (zero, or the training mean);
  deterministic, so one imputation per mask suffices.
* :class:`MarginalImputation`: u = a random training row (the marginal of the unselected
  features, ignoring x_z).
* :class:`GaussianMixtureImputation`: multiple imputation from the conditional of a
  Gaussian (K = 1) or Gaussian mixture fitted on the training data. For component k with
  mean mu_k and covariance Sigma_k, and selected set s, unselected set u,

      x_u | x_s, k ~ N(mu_u + Sigma_us Sigma_ss^{-1} (x_s - mu_s),
                       Sigma_uu - Sigma_us Sigma_ss^{-1} Sigma_su),
      P(k | x_s) propto w_k N(x_s; mu_ks, Sigma_k,ss).

  Draws use Matheron's rule: with x* ~ N(mu_k, Sigma_k),
  u = x* + Sigma_k S A^{-1} S (x - x*), where S = diag(z) and A = S Sigma_k S + (I - S)
  is Sigma_ss padded with an identity, so one batched Cholesky per (row, component)
  conditions on any mask.
* :class:`FactorMixtureImputation`: multiple imputation from a mixture of factor
  analysers; one component is x = mu + W h + e, h ~ N(0, I_r), e ~ N(0, diag(psi)), i.e.
  Sigma = W W^T + diag(psi). Its conditional is exact and costs an r x r Cholesky per row
  instead of d x d:

      h | x_s ~ N(P^{-1} W_s^T Psi_s^{-1} (x_s - mu_s), P^{-1}),  P = I + W_s^T Psi_s^{-1} W_s,
      x_u | x_s = mu_u + W_u h + e_u,

  the choice for images (d = 128 for Switching Panels).

Shapes: ``x`` (..., d) and ``z`` (..., d) broadcast together; :meth:`Imputation.sample`
returns (M, ..., d) for M imputations. Gaussian algebra runs in float64.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from probex._checks import as_matrix

__all__ = [
    "Imputation",
    "ConstantImputation",
    "MarginalImputation",
    "GaussianMixtureImputation",
    "FactorMixtureImputation",
    "make_imputation",
    "IMPUTATIONS",
]

IMPUTATIONS = ("zero", "mean", "marginal", "gaussian", "gmm", "factor", "factor_mixture")


def _check_mixture_weights(weights: torch.Tensor) -> None:
    """A ValueError unless the (K,) mixture weights are non-negative and sum to 1."""
    if float(weights.min()) < 0 or abs(float(weights.sum()) - 1) > 1e-6:
        raise ValueError("mixture weights must be non-negative and sum to 1")


class Imputation(nn.Module):
    """Base class: ``sample(x, z, n_imputations)`` -> x_tilde of shape (M, ..., d)."""

    #: whether u is random (several imputations then average the predictions)
    stochastic = True

    def sample(self, x: torch.Tensor, z: torch.Tensor, n_imputations: int = 1) -> torch.Tensor:
        shape = torch.broadcast_shapes(x.shape, z.shape)
        x, z = x.expand(shape), z.expand(shape)
        m = int(n_imputations) if self.stochastic else 1
        if m < 1:
            raise ValueError(f"n_imputations must be a positive integer, got {n_imputations}")
        flat_x, flat_z = x.reshape(-1, shape[-1]), z.reshape(-1, shape[-1])
        fill = self.fill(flat_x.detach(), (flat_z.detach() > 0.5), m)  # (M, B, d)
        fill = fill.to(dtype=x.dtype).reshape(m, *shape)
        return z * x + (1 - z) * fill

    def fill(self, x: torch.Tensor, mask: torch.Tensor, n_imputations: int) -> torch.Tensor:
        """Values u for every feature, (M, B, d), given rows x (B, d) and boolean masks."""
        raise NotImplementedError


class ConstantImputation(Imputation):
    """u = c: zero imputation (c = 0, L2X / INVASE / REAL-X) or mean imputation."""

    stochastic = False

    def __init__(self, values):
        super().__init__()
        self.register_buffer("values", torch.as_tensor(values, dtype=torch.float64).clone())

    def fill(self, x, mask, n_imputations):
        return self.values.to(x.device).expand(1, *x.shape)


class MarginalImputation(Imputation):
    """u = a training row drawn uniformly: the joint marginal of the unselected features."""

    def __init__(self, X_train: torch.Tensor):
        super().__init__()
        self.register_buffer("rows", torch.as_tensor(X_train, dtype=torch.float64).clone())

    def fill(self, x, mask, n_imputations):
        index = torch.randint(self.rows.shape[0], (n_imputations, x.shape[0]),
                              device=self.rows.device)
        return self.rows[index].to(x.device)


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


def make_imputation(name: str, X_train, n_components: int = 3, rank: int = 16,
                    ridge: float = 1e-3, seed: int = 0) -> Imputation:
    """Build an imputation by name from training rows X_train (N, d).

    ``"zero"``, ``"mean"`` (constant), ``"marginal"``, ``"gaussian"`` (K = 1),
    ``"gmm"`` (``n_components`` components), ``"factor"`` (``rank`` factors),
    ``"factor_mixture"`` (``n_components`` factor analysers of ``rank`` factors).
    """
    if name not in IMPUTATIONS:
        options = ", ".join(repr(c) for c in IMPUTATIONS)
        raise ValueError(f"unknown imputation={name!r}; expected one of {options}")
    X = as_matrix(X_train, "X_train")
    if name == "zero":
        return ConstantImputation(torch.zeros(X.shape[1], dtype=torch.float64))
    if name == "mean":
        return ConstantImputation(X.mean(0))
    if name == "marginal":
        return MarginalImputation(X)
    if name in ("factor", "factor_mixture"):
        return FactorMixtureImputation.fit(X, min(int(rank), X.shape[1]),
                                           1 if name == "factor" else n_components,
                                           ridge=ridge, seed=seed)
    return GaussianMixtureImputation.fit(X, 1 if name == "gaussian" else n_components,
                                         ridge=ridge, seed=seed)
