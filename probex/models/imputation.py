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

This module is the entry point (:func:`make_imputation` by name, and every class); the
families live in :mod:`probex.models.imputation_base` (the interface, constant and
marginal), :mod:`probex.models.imputation_gaussian` and
:mod:`probex.models.imputation_factor`.
"""

from __future__ import annotations

import torch

from probex._checks import as_matrix
from probex.models.imputation_base import ConstantImputation, Imputation, MarginalImputation
from probex.models.imputation_factor import FactorMixtureImputation
from probex.models.imputation_gaussian import GaussianMixtureImputation

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
