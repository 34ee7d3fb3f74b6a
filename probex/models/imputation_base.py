"""The imputation interface of LEX and its two simple families: constant and marginal.

:class:`Imputation` fixes the contract every imputation follows (x_tilde = z * x +
(1 - z) * u, shapes and the number of imputations; see :mod:`probex.models.imputation`);
:class:`ConstantImputation` and :class:`MarginalImputation` fill u without fitting a
model of the data.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Imputation", "ConstantImputation", "MarginalImputation"]


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
