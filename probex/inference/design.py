"""Experimental design on the Bayesian linear surrogate: where to query next, and how many.

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
from dataclasses import dataclass

import torch
from scipy import special, stats

from probex.inference.exact import NormalInverseGammaPosterior

__all__ = [
    "predictive_variance",
    "perturbations_to_goal",
    "effective_weight",
    "expected_information_gain",
    "nig_information_offset",
    "nig_expected_information_gain",
    "DesignState",
    "OnlineSurrogatePosterior",
    "BatchSelection",
    "greedy_batch",
    "design_information_gain",
    "design_radius",
    "information_gain_bound",
    "credible_region_diameter",
]


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


# ---------------------------------------------------------------------- single candidates
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


# ---------------------------------------------------------------------- greedy batches
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


# ---------------------------------------------------------------------- whole designs
def _centred_scatter_prefixes(z: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """S_t = sum_{i<=t} w_i (z_i - z_bar_t)(z_i - z_bar_t)^T for every prefix t, (n, d, d)."""
    W = weights.cumsum(0)
    first = (weights.unsqueeze(-1) * z).cumsum(0)
    second = (weights[:, None, None] * z.unsqueeze(-1) * z.unsqueeze(-2)).cumsum(0)
    mean = first / W.unsqueeze(-1)
    return second - W[:, None, None] * mean.unsqueeze(-1) * mean.unsqueeze(-2)


def design_information_gain(z, weights, prior_scale: float = 1.0, cumulative: bool = False
                            ) -> torch.Tensor:
    """Information about phi in a weighted design, sigma^2 known: 1/2 log det(I + s0^2 S).

    S is the weighted-centred scatter matrix of the rows (the intercept integrated out)
    and s0 the prior standard deviation of a coefficient in units of sigma (the
    NormalInverseGamma prior's ``scale``). Equals the sum of the sequential EIGs of the
    rows in any order. ``z`` (n, d), ``weights`` (n,); with ``cumulative`` the gain after
    each of the first t rows, (n,); else a 0-dim tensor.
    """
    z = torch.as_tensor(z, dtype=torch.float64)
    weights = torch.as_tensor(weights, dtype=torch.float64)
    if z.ndim != 2 or weights.shape != z.shape[:1]:
        raise ValueError(f"expected z (n, d) and weights (n,); got {tuple(z.shape)}, "
                         f"{tuple(weights.shape)}")
    if not bool((weights > 0).all()):
        raise ValueError("locality weights must all be positive")
    if cumulative:
        scatter = _centred_scatter_prefixes(z, weights)
    else:
        zc = z - (weights.unsqueeze(-1) * z).sum(0) / weights.sum()
        scatter = zc.T @ (weights.unsqueeze(-1) * zc)
    eye = torch.eye(z.shape[-1], dtype=z.dtype)
    return 0.5 * torch.linalg.slogdet(eye + prior_scale**2 * scatter)[1]


def design_radius(z, weights, center=None, cumulative: bool = False) -> torch.Tensor:
    """R = max_i sqrt(w_i) ||z_i - c||, the radius in :func:`information_gain_bound`.

    ``center`` c (d,) defaults to 0, the instance itself for Gaussian perturbations; use
    the all-ones mask for mask perturbations. Any fixed c is valid, since centring at
    the weighted mean can only shrink the scatter's trace. For the LIME kernel of width
    nu, sqrt(w) r = r exp(-r^2 / (4 nu^2)) <= nu sqrt(2 / e) whatever the rows.
    ``cumulative`` gives the running maximum over the first t rows, (n,).
    """
    z = torch.as_tensor(z, dtype=torch.float64)
    weights = torch.as_tensor(weights, dtype=torch.float64)
    c = torch.zeros(z.shape[-1], dtype=z.dtype) if center is None else torch.as_tensor(
        center, dtype=z.dtype)
    norms = weights.sqrt() * (z - c).norm(dim=-1)
    return torch.cummax(norms, 0).values if cumulative else norms.max()


def information_gain_bound(t, n_features: int, radius: float, noise_variance: float = 1.0):
    """(d/2) log(1 + t R^2 / (d sigma^2)): no design of t rows with sqrt(w) ||z - c|| <= R
    gives more information about phi (EAGLE's O(d log t) bound).

    Proof: 1/2 log det(I + S / sigma^2) <= (d/2) log(tr(I + S / sigma^2) / d) (AM-GM on
    the eigenvalues) and tr S = sum_i w_i ||z_i - z_bar||^2 <= sum_i w_i ||z_i - c||^2 <=
    t R^2. Here sigma^2 is the noise variance in units of a coefficient's prior variance
    (1 / scale^2 for the NormalInverseGamma prior). ``t`` scalar or array.
    """
    t = torch.as_tensor(t, dtype=torch.float64)
    return 0.5 * n_features * torch.log1p(t * radius**2 / (n_features * noise_variance))


def credible_region_diameter(posterior: NormalInverseGammaPosterior, prob: float = 0.95
                             ) -> torch.Tensor:
    """Diameter of the joint ``prob`` credible ellipsoid of all d attributions, (...,).

    Under the NIG posterior (phi - m)^T Lambda (phi - m) / (d b / a) ~ F(d, 2a), so the
    region {q <= d (b/a) F_prob} has largest diameter 2 sqrt(d (b/a) F_prob / lambda_min).
    For large a, d F_prob -> chi^2_d(prob) <= 2d + 3 log(1/delta): the queries needed to
    shrink it below eps grow linearly in d and logarithmically in 1/delta (EAGLE's sample
    complexity).
    """
    if not 0 < prob < 1:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    d = posterior.mean.shape[-1]
    quantile = special.fdtri(d, posterior.df.cpu().numpy(), prob)
    radius_sq = (d * torch.as_tensor(quantile, dtype=posterior.rate.dtype)
                 * (posterior.rate / posterior.shape).cpu())
    smallest = torch.linalg.eigvalsh(posterior.precision).cpu()[..., 0]
    return 2.0 * (radius_sq / smallest).sqrt()
