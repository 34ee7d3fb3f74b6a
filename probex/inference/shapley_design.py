"""Which coalitions a KernelSHAP-type estimate of Shapley values queries.

The Shapley values of a game v on d players solve the weighted least-squares problem
(Charnes et al. 1988; Lundberg & Lee 2017, Theorem 2)

    phi = argmin sum_{0 < |z| < d} p(z) (v(z) - v(0) - z^T phi)^2  s.t.  1^T phi = v(1) - v(0),

with p(z) proportional to the Shapley kernel (d - 1) / (C(d, |z|) |z| (d - |z|)). A
design samples coalitions and gives each the weight that makes the sampled problem a
consistent estimate of this one. This one:

- strata: coalitions of sizes h and d - h form stratum h = 1 .. floor(d / 2); its
  Shapley-kernel mass is W_h = (2 if 2h < d else 1) / (h (d - h)), normalized to sum 1;
- units are antithetic pairs (S, complement of S) (paired sampling, Covert & Lee 2021,
  Sec. 4.2): a stratum holds N_h = C(d, h) pairs (C(d, d/2) / 2 in the middle stratum),
  and a pair's two rows are the same unit for the variance;
- allocation: n_h = min(N_h, max(min_pairs, lambda W_h)) pairs with lambda such that the
  budget is spent (proportional allocation, capped and floored, then rounded). A stratum
  whose proportional share reaches N_h is enumerated whole: the rule of shap's
  KernelExplainer (enumerate the sizes that carry most kernel weight, 1 and d - 1 first,
  when the budget allows), here without its leftover multinomial noise;
- within a stratum, pairs are drawn uniformly without replacement; each row gets the
  regression weight W_h / (2 n_h), so sum over rows of weight * g(z) is an unbiased
  (stratified) estimate of E_p[g(z)] for any g;
- the full coalition (f(x)) and the empty one (f(baseline)) are always queried; they
  enter as exact constraints (weight ``inf``).

With a budget of 2^d or more every stratum is enumerated and the design is the whole game.
Shapes: z (B, n_rows, d) for B instances, each with its own random pairs; rows 0 and 1
are the full and empty coalitions, then pair u occupies rows 2 + 2u (S) and 3 + 2u (its
complement); pairs are ordered by stratum, the same allocation for every instance.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["StratumAllocation", "CoalitionDesign", "allocate_strata", "shapley_design"]


@dataclass(frozen=True)
class StratumAllocation:
    """How many antithetic pairs each stratum of coalition sizes {h, d - h} gets.

    Attributes:
        n_features: d.
        sizes: (H,) the smaller size h of each stratum, H = floor(d / 2).
        probability: (H,) Shapley-kernel mass W_h of each stratum (sums to 1).
        n_units: (H,) pairs N_h in each stratum.
        n_sampled: (H,) pairs n_h queried; n_h == N_h means enumerated.
    """

    n_features: int
    sizes: np.ndarray
    probability: np.ndarray
    n_units: np.ndarray
    n_sampled: np.ndarray

    @property
    def enumerated(self) -> np.ndarray:
        """(H,) whether each stratum is queried whole (no sampling error)."""
        return self.n_sampled == self.n_units

    @property
    def n_evaluations(self) -> int:
        """Model evaluations per instance: 2 anchors + 2 rows per pair."""
        return 2 + 2 * int(self.n_sampled.sum())


def _strata(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = np.arange(1, d // 2 + 1)
    middle = 2 * sizes == d
    mass = np.where(middle, 1.0, 2.0) / (sizes * (d - sizes))
    units = np.array([math.comb(d, int(h)) // (2 if m else 1) for h, m in
                      zip(sizes, middle, strict=True)])
    return sizes, mass / mass.sum(), units


def allocate_strata(n_features: int, n_samples: int, *, min_pairs: int = 4
                    ) -> StratumAllocation:
    """Allocate a budget of ``n_samples`` evaluations per instance to the strata.

    Raises:
        ValueError: if d < 2, or the budget cannot give every stratum min(N_h, min_pairs)
            pairs plus the two anchors.
    """
    d = int(n_features)
    if d < 2:
        raise ValueError(f"Shapley designs need at least 2 features, got n_features={d}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an integer, got {n_samples!r}")
    if isinstance(min_pairs, bool) or not isinstance(min_pairs, (int, np.integer)) \
            or min_pairs < 2:
        raise ValueError(f"min_pairs must be an integer >= 2, got {min_pairs!r}")
    sizes, mass, units = _strata(d)
    budget = (int(n_samples) - 2) // 2
    if budget >= units.sum():
        return StratumAllocation(d, sizes, mass, units, units.copy())
    floor = np.minimum(units, min_pairs)
    if budget < floor.sum():
        raise ValueError(
            f"n_samples={n_samples} is too small for d={d} features: the design needs at "
            f"least {2 + 2 * int(floor.sum())} evaluations (the two anchors and "
            f"min_pairs={min_pairs} antithetic pairs in each of {len(sizes)} strata)"
        )

    def share(scale: float) -> np.ndarray:
        return np.minimum(units, np.maximum(floor, scale * mass))

    low, high = 0.0, float(units.max() / mass.min())
    for _ in range(200):  # bisection on the proportionality constant lambda
        mid = 0.5 * (low + high)
        low, high = (mid, high) if share(mid).sum() <= budget else (low, mid)
    continuous = share(low)
    n = np.floor(continuous + 1e-9).astype(np.int64)
    remainder = continuous - n
    for h in np.argsort(-remainder, kind="stable")[: budget - int(n.sum())]:
        if n[h] < units[h]:
            n[h] += 1
    return StratumAllocation(d, sizes, mass, units, n)


def _all_subsets(d: int, h: int, middle: bool) -> np.ndarray:
    """Every representative subset of stratum h as a (N_h, d) 0/1 array (in the middle
    stratum, the member of each pair that contains feature 0)."""
    if middle:
        combos = [(0, *c) for c in itertools.combinations(range(1, d), h - 1)]
    else:
        combos = list(itertools.combinations(range(d), h))
    masks = np.zeros((len(combos), d))
    masks[np.repeat(np.arange(len(combos)), h), np.asarray(combos).ravel()] = 1.0
    return masks


def _random_subsets(d: int, h: int, middle: bool, n: int, generator: torch.Generator
                    ) -> np.ndarray:
    """n distinct uniformly drawn representative subsets of size h (rejection of repeats)."""
    chosen: dict[bytes, np.ndarray] = {}
    while len(chosen) < n:
        keys = torch.rand((2 * (n - len(chosen)) + 8, d), generator=generator,
                          dtype=torch.float64)
        if middle:
            keys[:, 0] = -1.0  # feature 0 always in, h - 1 more uniformly
        ranks = keys.argsort(-1).argsort(-1).numpy()
        for row in (ranks < h).astype(np.float64):
            chosen.setdefault(np.packbits(row.astype(np.uint8)).tobytes(), row)
            if len(chosen) == n:
                break
    return np.stack(list(chosen.values()))


def _stratum_pairs(d: int, h: int, n: int, n_units: int, generator: torch.Generator
                   ) -> np.ndarray:
    """n pairs of stratum h drawn without replacement: (n, 2, d)."""
    middle = 2 * h == d
    if n_units <= max(4 * n, 4096):
        subsets = _all_subsets(d, h, middle)
        if n < n_units:
            subsets = subsets[torch.randperm(n_units, generator=generator)[:n].numpy()]
    else:
        subsets = _random_subsets(d, h, middle, n, generator)
    return np.stack([subsets, 1.0 - subsets], axis=1)


@dataclass(frozen=True)
class CoalitionDesign:
    """Coalitions to query for B instances (shapes in the module docstring).

    Attributes:
        allocation: the strata and pairs per stratum (the same for every instance).
        z: (B, n_rows, d) float64 masks, 1 = feature kept.
        weights: (B, n_rows) regression weights W_h / (2 n_h); ``inf`` for the full and
            empty coalitions (rows 0 and 1), which enter as exact constraints.
        unit_stratum: (n_pairs,) int64 stratum index (0-based) of each pair.
    """

    allocation: StratumAllocation
    z: torch.Tensor
    weights: torch.Tensor
    unit_stratum: torch.Tensor

    @property
    def n_instances(self) -> int:
        return self.z.shape[0]

    @property
    def n_rows(self) -> int:
        return self.z.shape[1]

    def inputs(self, x, baseline) -> torch.Tensor:
        """Model inputs z * x + (1 - z) * baseline, (B, n_rows, d), for x (B, d)."""
        x = torch.as_tensor(x, dtype=self.z.dtype)
        baseline = torch.as_tensor(baseline, dtype=self.z.dtype)
        if x.shape != (self.n_instances, self.z.shape[2]) or baseline.shape != x.shape[1:]:
            raise ValueError(f"x must have shape {(self.n_instances, self.z.shape[2])} and "
                             f"baseline ({self.z.shape[2]},); got {tuple(x.shape)} and "
                             f"{tuple(baseline.shape)}")
        return self.z * x.unsqueeze(1) + (1.0 - self.z) * baseline


def shapley_design(n_features: int, n_samples: int, *, n_instances: int = 1,
                   seed: int | None = 0, generator: torch.Generator | None = None,
                   min_pairs: int = 4) -> CoalitionDesign:
    """Draw the design for B = ``n_instances`` instances with a budget of ``n_samples``
    evaluations each (the design uses ``allocation.n_evaluations`` <= n_samples).

    ``generator`` (a ``torch.Generator``) takes precedence over ``seed``; the same seed
    gives the same design.
    """
    allocation = allocate_strata(n_features, n_samples, min_pairs=min_pairs)
    if isinstance(n_instances, bool) or not isinstance(n_instances, (int, np.integer)) \
            or n_instances < 1:
        raise ValueError(f"n_instances must be a positive integer, got {n_instances!r}")
    if generator is None:
        generator = torch.Generator().manual_seed(int(0 if seed is None else seed))
    d = allocation.n_features
    anchors = np.stack([np.ones(d), np.zeros(d)])
    designs = []
    for _ in range(int(n_instances)):
        pairs = [_stratum_pairs(d, int(h), int(n), int(N), generator) for h, n, N in
                 zip(allocation.sizes, allocation.n_sampled, allocation.n_units, strict=True)]
        designs.append(np.concatenate([anchors, *(p.reshape(-1, d) for p in pairs)]))
    stratum = np.repeat(np.arange(len(allocation.sizes)), allocation.n_sampled)
    row_weight = allocation.probability[stratum] / (2.0 * allocation.n_sampled[stratum])
    weights = np.concatenate([[np.inf, np.inf], np.repeat(row_weight, 2)])
    return CoalitionDesign(
        allocation=allocation,
        z=torch.as_tensor(np.stack(designs)),
        weights=torch.as_tensor(weights).expand(int(n_instances), -1),
        unit_stratum=torch.as_tensor(stratum),
    )
