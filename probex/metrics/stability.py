"""Stability of explanations: across seeds (reproducibility) and across nearby inputs.

Rankings are by absolute attribution unless ``absolute=False``; ties are broken by
feature order (a stable sort), so the numbers are deterministic.

- :func:`kendall_tau_reproducibility`: mean Kendall tau-b between the attribution
  vectors of every pair of runs (1: identical rankings).
- :func:`top_k_jaccard`: mean Jaccard index |A cap B| / |A cup B| of the top-k feature
  sets of every pair of runs (1: the same k features every time).
- :func:`reproducibility`: both, from attribution arrays or Explanations.
- :func:`neighbourhood_stability`: the same similarities between the explanation of x
  and those of points x + noise nearby, and the relative change of the attributions.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

__all__ = ["attribution_matrix", "kendall_tau_reproducibility", "top_k_jaccard",
           "reproducibility", "neighbourhood_stability"]


def attribution_matrix(runs) -> np.ndarray:
    """Stack runs into an (n_runs, d) array: Explanations (their posterior means) or
    attribution vectors."""
    rows = [np.asarray(r.mean if hasattr(r, "mean") and not isinstance(r, np.ndarray)
                       else r, dtype=float) for r in runs]
    if not rows:
        raise ValueError("need at least one run")
    if any(r.ndim != 1 for r in rows) or len({r.shape for r in rows}) != 1:
        raise ValueError("every run must be one attribution vector (d,), all of the same d; "
                         f"got shapes {sorted({r.shape for r in rows})}")
    matrix = np.stack(rows)
    if not np.isfinite(matrix).all():
        raise ValueError("attributions contain NaN or infinite values")
    return matrix


def _scores(matrix: np.ndarray, absolute: bool) -> np.ndarray:
    return np.abs(matrix) if absolute else matrix


def _top_sets(matrix: np.ndarray, k: int, absolute: bool) -> list[frozenset]:
    d = matrix.shape[-1]
    if not 1 <= k <= d:
        raise ValueError(f"k must be between 1 and the number of features {d}, got {k}")
    order = np.argsort(-_scores(matrix, absolute), axis=-1, kind="stable")[:, :k]
    return [frozenset(row.tolist()) for row in order]


def _jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b)


def _tau(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # a constant ranking carries no order
        return float(np.array_equal(a, b))
    return float(stats.kendalltau(a, b).statistic)


def _pairs(n: int) -> list[tuple[int, int]]:
    if n < 2:
        raise ValueError(f"reproducibility needs at least 2 runs, got {n}")
    return list(itertools.combinations(range(n), 2))


def kendall_tau_reproducibility(runs, absolute: bool = True) -> float:
    """Mean pairwise Kendall tau-b of the runs' attributions (n_runs >= 2, each (d,))."""
    matrix = _scores(attribution_matrix(runs), absolute)
    return float(np.mean([_tau(matrix[i], matrix[j]) for i, j in _pairs(len(matrix))]))


def top_k_jaccard(runs, k: int = 5, absolute: bool = True) -> float:
    """Mean pairwise Jaccard index of the runs' top-k feature sets."""
    matrix = attribution_matrix(runs)
    sets = _top_sets(matrix, k, absolute)
    return float(np.mean([_jaccard(sets[i], sets[j]) for i, j in _pairs(len(sets))]))


def reproducibility(runs, k: int = 5, absolute: bool = True) -> dict:
    """``{"kendall_tau": ..., "jaccard": ...}`` across runs (e.g. seeds) of one method."""
    return {"kendall_tau": kendall_tau_reproducibility(runs, absolute),
            "jaccard": top_k_jaccard(runs, k, absolute)}


def neighbourhood_stability(explain, x, n_neighbours: int = 10, noise_scale: float = 0.1,
                            std=None, k: int = 5, absolute: bool = True, seed: int = 0
                            ) -> dict:
    """How much an explanation changes between x and nearby points.

    Neighbours are x + noise_scale * std * e, e ~ N(0, I), with ``std`` the per-feature
    scale (default 1). ``explain`` maps an instance (d,) to an Explanation or an
    attribution vector. Returns the means over neighbours of the Kendall tau and the
    top-k Jaccard index against x's explanation, and of the relative change
    ||a(x') - a(x)|| / ||a(x)||.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or not np.isfinite(x).all():
        raise ValueError(f"x must be a finite vector (d,), got shape {x.shape}")
    if n_neighbours < 1 or not noise_scale > 0:
        raise ValueError("n_neighbours must be >= 1 and noise_scale positive")
    scale = np.ones_like(x) if std is None else np.broadcast_to(np.asarray(std, float), x.shape)
    rng = np.random.default_rng(seed)
    base = attribution_matrix([explain(x)])[0]
    taus, jaccards, changes = [], [], []
    for _ in range(n_neighbours):
        neighbour = x + noise_scale * scale * rng.standard_normal(x.shape)
        other = attribution_matrix([explain(neighbour)])[0]
        pair = np.stack([base, other])
        taus.append(_tau(*_scores(pair, absolute)))
        sets = _top_sets(pair, k, absolute)
        jaccards.append(_jaccard(*sets))
        changes.append(np.linalg.norm(other - base) / max(np.linalg.norm(base), 1e-300))
    return {"kendall_tau": float(np.mean(taus)), "jaccard": float(np.mean(jaccards)),
            "relative_change": float(np.mean(changes))}
