"""Are reported uncertainties honest? Coverage, z-scores and PIT values against a truth.

Given a truth computed independently of the method (exact enumeration, a closed form or
a high-sample Monte Carlo reference; see :mod:`probex.metrics.ground_truth`):

- coverage: the fraction of intervals that contain the truth; honest 95% intervals
  cover about 95% (binomial error sqrt(0.95 * 0.05 / n) over n pooled intervals);
- z-scores z = (estimate - truth) / sd: honest ones have mean square 1 (the Student-t
  case too, when sd is the distribution's standard deviation, not its scale);
- PIT values u = F(truth), F the reported marginal CDF (normal or Student-t) or the
  empirical CDF of draws (randomized ranks): across instances honest ones are uniform on
  [0, 1]. A U-shaped histogram means intervals too narrow, a hump too wide, a slope a bias.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["interval_coverage", "z_scores", "mean_squared_z", "pit_values", "pit_from_draws",
           "pit_histogram", "pit_uniformity_pvalue"]


def _finite(name: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def interval_coverage(intervals, reference, *, atol: float = 0.0) -> float:
    """Fraction of intervals (..., 2) that contain the reference values (...).

    The BayesLIME calibration check (Slack et al., 2021, Sec. 5.1): intervals from a few
    perturbations against the attribution computed from many. ``atol`` widens every
    interval by that much on each side (for a floating-point truth, e.g. 1e-9 when an
    exact estimator's zero-width interval meets an enumerated value).
    """
    intervals = _finite("intervals", intervals)
    reference = _finite("reference", reference)
    if intervals.shape[-1] != 2 or intervals.shape[:-1] != reference.shape:
        raise ValueError(
            f"intervals {intervals.shape} must be reference's shape {reference.shape} plus (2,)"
        )
    if not atol >= 0:
        raise ValueError(f"atol must be non-negative, got {atol!r}")
    inside = (intervals[..., 0] - atol <= reference) & (reference <= intervals[..., 1] + atol)
    return float(inside.mean())


def z_scores(estimate, sd, truth) -> np.ndarray:
    """(estimate - truth) / sd, elementwise; 0 where sd = 0 and the estimate is exact,
    +-inf where sd = 0 and it is not."""
    estimate, sd, truth = (_finite(n, v) for n, v in
                           (("estimate", estimate), ("sd", sd), ("truth", truth)))
    try:
        estimate, sd, truth = np.broadcast_arrays(estimate, sd, truth)
    except ValueError as err:
        raise ValueError(f"estimate {estimate.shape}, sd {sd.shape} and truth {truth.shape} "
                         "must broadcast") from err
    if (sd < 0).any():
        raise ValueError("sd must be non-negative")
    error = estimate - truth
    with np.errstate(divide="ignore", invalid="ignore"):
        z = error / sd
    return np.where(sd > 0, z, np.where(error == 0, 0.0, np.copysign(np.inf, error)))


def mean_squared_z(estimate, sd, truth) -> float:
    """Mean of squared z-scores over all entries; 1 for honest standard deviations.

    Over n independent entries its Monte Carlo error is about sqrt(2 / n) for normal
    errors (a chi-square with n degrees of freedom over n).
    """
    return float(np.mean(z_scores(estimate, sd, truth) ** 2))


def pit_values(truth, loc, scale, df=None) -> np.ndarray:
    """F(truth) for normal (df None or inf) or Student-t marginals F with loc and scale.

    ``scale`` is the distribution's scale parameter (for Student-t not the sd).
    """
    truth, loc, scale = (_finite(n, v) for n, v in
                         (("truth", truth), ("loc", loc), ("scale", scale)))
    if (scale <= 0).any():
        raise ValueError("scale must be positive")
    standardized = (truth - loc) / scale
    if df is None:
        return stats.norm.cdf(standardized)
    df = np.asarray(df, dtype=float)
    if np.isnan(df).any() or (df <= 0).any():
        raise ValueError("df must be positive (inf for a normal marginal)")
    return np.where(np.isinf(df), stats.norm.cdf(standardized),
                    stats.t.cdf(standardized, np.where(np.isinf(df), 1.0, df)))


def pit_from_draws(draws, truth, *, axis: int = 0, seed: int = 0) -> np.ndarray:
    """Randomized PIT from draws: (#draws < truth + U (#ties + 1)) / (n_draws + 1).

    U ~ Uniform(0, 1) breaks ties and spreads the discrete rank over its bin, so for a
    truth exchangeable with the draws the value is exactly Uniform(0, 1); rank
    histograms are histograms of these values.

    Args:
        draws: (..., n_draws, ...) with the draw axis at ``axis``.
        truth: draws' shape without the draw axis.
    """
    draws = np.moveaxis(_finite("draws", draws), axis, 0)
    truth = _finite("truth", truth)
    if draws.shape[1:] != truth.shape:
        raise ValueError(f"draws {draws.shape} (draw axis first) must be truth's shape "
                         f"{truth.shape} plus the draw axis")
    below = (draws < truth).sum(0)
    ties = (draws == truth).sum(0)
    u = np.random.default_rng(int(seed)).uniform(size=truth.shape)
    return (below + u * (ties + 1)) / (draws.shape[0] + 1)


def pit_histogram(pit, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Counts of PIT values in ``n_bins`` equal bins of [0, 1]: (counts, edges)."""
    pit = _finite("pit", pit).ravel()
    if ((pit < 0) | (pit > 1)).any():
        raise ValueError("PIT values must lie in [0, 1]")
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}")
    return np.histogram(pit, bins=n_bins, range=(0.0, 1.0))


def pit_uniformity_pvalue(pit, n_bins: int = 10) -> float:
    """Chi-square test p-value of uniform PIT values over ``n_bins`` equal bins
    (values must be independent, e.g. one per instance and feature from separate runs)."""
    counts, _ = pit_histogram(pit, n_bins)
    return float(stats.chisquare(counts).pvalue)
