"""Greedy batch design: the online surrogate posterior and batches of maximal EIG.

:class:`OnlineSurrogatePosterior` keeps one instance's conjugate surrogate posterior up to
date batch by batch; :func:`greedy_batch` picks pool rows one at a time, each maximising
the expected information gain (:mod:`probex.inference.information_gain`) given the earlier
picks, with rank-one updates of the posterior covariance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from probex.inference.exact import NormalInverseGammaPosterior
from probex.inference.information_gain import nig_information_offset

__all__ = ["DesignState", "OnlineSurrogatePosterior", "BatchSelection", "greedy_batch"]


@dataclass(frozen=True)
class DesignState:
    """What the design needs to know of one instance's surrogate posterior.

    Attributes:
        covariance_unit: Lambda^{-1} (d, d), covariance of phi given sigma^2 = 1.
        z_mean: weighted mean z_bar of the design so far, (d,).
        weight_sum: W, the design's total weight (0-dim tensor).
        shape: a of the NIG posterior (0-dim tensor); 1/2 per further observation.
    """

    covariance_unit: torch.Tensor
    z_mean: torch.Tensor
    weight_sum: torch.Tensor
    shape: torch.Tensor

    @classmethod
    def of(cls, posterior: NormalInverseGammaPosterior, z_mean: torch.Tensor, weight_sum,
           instance: int = 0) -> DesignState:
        """From a (possibly batched) posterior and the centring of its data."""
        batched = posterior.mean.ndim == 2
        pick = (lambda t: t[instance]) if batched else (lambda t: t)
        cov = posterior.covariance_unit
        z_mean = z_mean[instance] if z_mean.ndim == 2 else z_mean
        weight_sum = torch.as_tensor(weight_sum, dtype=cov.dtype, device=cov.device)
        weight_sum = weight_sum[instance] if weight_sum.ndim == 1 else weight_sum
        return cls(pick(cov), z_mean, weight_sum, pick(posterior.shape))


class OnlineSurrogatePosterior:
    """The conjugate posterior of the centred surrogate, updated batch by batch.

    Keeps the weighted running sums W = sum w, sum w z, sum w z z^T, sum w y, sum w z y,
    sum w y^2 of one instance's design (float64), so the posterior after each batch costs
    O(b d^2 + d^3) however many rows came before. From the centred statistics
    G = sum w (z - z_bar)(z - z_bar)^T, h = sum w (z - z_bar)(y - y_bar),
    q = sum w (y - y_bar)^2 and the prior N(0, sigma^2 scale^2 I), InvGamma(a0, b0):

        Lambda = I / scale^2 + G,  m = Lambda^{-1} h,  a = a0 + (n - 1) / 2,
        b = b0 + (q - m^T h) / 2,

    which is :meth:`NormalInverseGammaPosterior.update` on the centred rows with one
    location parameter (the intercept) integrated out.
    """

    def __init__(self, n_features: int, scale: float = 1.0, shape: float = 1.0,
                 rate: float = 1e-3, dtype=torch.float64, device=None):
        d = int(n_features)
        self.prior = NormalInverseGammaPosterior.prior(d, scale=scale, shape=shape, rate=rate,
                                                       dtype=dtype, device=device)
        zeros = torch.zeros((), dtype=dtype, device=device)
        self.n, self.weight_sum, self.sum_y, self.sum_yy = 0, zeros, zeros, zeros
        self.sum_z = torch.zeros(d, dtype=dtype, device=device)
        self.sum_zy = torch.zeros(d, dtype=dtype, device=device)
        self.sum_zz = torch.zeros(d, d, dtype=dtype, device=device)

    def add(self, z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> None:
        """Add rows z (n, d) with answers y (n,) and locality weights (n,), all positive."""
        dtype, device = self.sum_z.dtype, self.sum_z.device
        z, y, w = (t.to(dtype=dtype, device=device) for t in (z, y, weights))
        if z.ndim != 2 or y.shape != z.shape[:1] or w.shape != z.shape[:1]:
            raise ValueError(f"expected z (n, d), y (n,), weights (n,); got {tuple(z.shape)}, "
                             f"{tuple(y.shape)}, {tuple(w.shape)}")
        if not bool((w > 0).all()):
            raise ValueError("locality weights must all be positive")
        wz = w.unsqueeze(-1) * z
        self.n += z.shape[0]
        self.weight_sum = self.weight_sum + w.sum()
        self.sum_y = self.sum_y + (w * y).sum()
        self.sum_yy = self.sum_yy + (w * y * y).sum()
        self.sum_z = self.sum_z + wz.sum(0)
        self.sum_zy = self.sum_zy + (wz * y.unsqueeze(-1)).sum(0)
        self.sum_zz = self.sum_zz + z.T @ wz

    @property
    def z_mean(self) -> torch.Tensor:
        return self.sum_z / self.weight_sum

    def posterior(self) -> NormalInverseGammaPosterior:
        """The current posterior, batch shape (1,) like the explainers' (needs n >= 2)."""
        if self.n < 2:
            raise ValueError("the surrogate needs at least 2 perturbations")
        W, z_bar = self.weight_sum, self.z_mean
        y_bar = self.sum_y / W
        gram = self.sum_zz - W * torch.outer(z_bar, z_bar)
        cross = self.sum_zy - W * z_bar * y_bar
        squares = self.sum_yy - W * y_bar * y_bar
        precision = self.prior.precision + 0.5 * (gram + gram.T)
        chol = torch.linalg.cholesky(precision)
        mean = torch.cholesky_solve(cross.unsqueeze(-1), chol).squeeze(-1)
        rate = self.prior.rate + 0.5 * (squares - mean @ cross).clamp_min(0.0)
        shape = self.prior.shape + 0.5 * (self.n - 1)
        return NormalInverseGammaPosterior(mean.unsqueeze(0), precision.unsqueeze(0),
                                           shape.reshape(1), rate.reshape(1))

    def state(self, posterior: NormalInverseGammaPosterior | None = None) -> DesignState:
        """The :class:`DesignState` for :func:`greedy_batch`."""
        posterior = self.posterior() if posterior is None else posterior
        return DesignState.of(posterior, self.z_mean, self.weight_sum)


@dataclass(frozen=True)
class BatchSelection:
    """A greedy batch: pool rows in pick order and what each added.

    Attributes:
        index: pool rows chosen, (b,), in the order picked.
        gains: sequential known-noise EIG of each pick given the earlier ones, (b,) nats.
        nig_gains: the same with sigma^2 unknown (adds K(a_j, d), a_j = a + j/2), (b,).
        state: the design state after the batch (its covariance from rank-one updates).
    """

    index: torch.Tensor
    gains: torch.Tensor
    nig_gains: torch.Tensor
    state: DesignState

    @property
    def total_gain(self) -> float:
        """Joint EIG of the batch, sigma^2 known: 1/2 log det(Lambda_after Lambda^{-1})."""
        return float(self.gains.sum())

    @property
    def total_nig_gain(self) -> float:
        """Joint EIG of the batch with sigma^2 unknown."""
        return float(self.nig_gains.sum())


def greedy_batch(pool_z: torch.Tensor, pool_weights: torch.Tensor, state: DesignState,
                 batch_size: int) -> BatchSelection:
    """Pick ``batch_size`` distinct pool rows, each maximising the EIG given the earlier ones.

    After each pick the posterior is updated by a rank-one (Sherman-Morrison) step,
    C' = C - gamma s s^T with s = C u, gamma = w_eff / (1 + w_eff u^T C u), and the centre
    moves by delta = (w / (W + w)) u. For the pool (rows U = pool - z_bar, products
    A = U C) this is A' = A - r s^T with r = gamma A u + (w / (W + w))(1 - gamma u^T C u),
    and the quadratic forms q = diag(A U^T) follow as q' = q - (w / (W + w) + r) A u
    + r (w / (W + w)) u^T C u. A is updated in place, so a pick costs O(m d) (two
    matrix-vector products and a rank-one update; C u is row k of A) and a batch of
    b ~ d picks O(m d^2): one factorisation-free pass per pick, no loop over candidates.

    Greedy maximisation of this (monotone submodular) log-determinant gain is within
    1 - 1/e of the best batch of its size drawn from the pool.

    Args:
        pool_z: candidates (m, d); pool_weights: their locality weights (m,).
        state: the current :class:`DesignState` (W must be positive).
        batch_size: b <= m.
    """
    m, d = pool_z.shape
    if pool_weights.shape != (m,):
        raise ValueError(f"pool_weights must have shape ({m},), got {tuple(pool_weights.shape)}")
    if not 1 <= batch_size <= m:
        raise ValueError(f"batch_size must be between 1 and the pool size {m}, got {batch_size}")
    if not bool((pool_weights >= 0).all()):
        raise ValueError("locality weights must be non-negative")
    if float(state.weight_sum) <= 0:
        raise ValueError("the design state must already hold data (weight_sum > 0)")
    dtype, device = state.covariance_unit.dtype, state.covariance_unit.device
    pool_z, pool_weights = pool_z.to(dtype=dtype, device=device), pool_weights.to(dtype)
    cov = state.covariance_unit.clone()
    z_mean = state.z_mean.to(dtype).clone()
    total = float(state.weight_sum)
    products = (pool_z - z_mean) @ cov  # A = U C, kept up to date by rank-one steps
    quad = (products * (pool_z - z_mean)).sum(-1)
    taken = torch.zeros(m, dtype=torch.bool, device=device)
    index, gains = [], []
    for _ in range(batch_size):
        # w_eff = w W / (W + w) and log1p is increasing: rank by quad * w / (W + w)
        score = (pool_weights / (pool_weights + total)).mul_(quad).masked_fill_(taken, -math.inf)
        k = int(score.argmax())
        taken[k] = True
        u = pool_z[k] - z_mean
        s = products[k].clone()                # C u (row k of A = U C, C symmetric)
        v, w = float(u @ s), float(pool_weights[k])
        w_eff = w * total / (total + w)
        gamma, shift = w_eff / (1.0 + w_eff * v), w / (total + w)
        index.append(k)
        gains.append(0.5 * math.log1p(w_eff * max(v, 0.0)))
        Au = products @ u                      # O(m d)
        r = Au.mul(gamma).add_(shift * (1.0 - gamma * v))
        quad.addcmul_(r + shift, Au, value=-1.0).add_(r, alpha=shift * v)
        products.addr_(r, s, alpha=-1.0)       # A' = A - r s^T, O(m d)
        cov.addr_(s, s, alpha=-gamma)
        z_mean.add_(u, alpha=shift)
        total += w
    index = torch.tensor(index, dtype=torch.long)
    gains = torch.tensor(gains, dtype=dtype)
    offsets = nig_information_offset(state.shape + 0.5 * torch.arange(batch_size), d)
    total = torch.tensor(total, dtype=dtype, device=device)
    after = DesignState(0.5 * (cov + cov.T), z_mean, total, state.shape + 0.5 * batch_size)
    return BatchSelection(index, gains, gains + offsets.to(gains), after)
