"""The PIT (rank) histogram of reported uncertainties against a truth, as a figure."""

from __future__ import annotations

import numpy as np
from scipy import stats

from probex.figure_files import saved
from probex.metrics.coverage import pit_histogram

__all__ = ["plot_pit_histogram"]


def plot_pit_histogram(pit, *, n_bins: int = 10, prob: float = 0.95, ax=None,
                       title: str | None = None, path=None):
    """Bar chart of PIT values (see :func:`probex.metrics.pit_values`) in equal bins.

    The shaded band is the central ``prob`` range of each bin's count under honest
    (uniform) PIT values: Binomial(n, 1 / n_bins). Bars outside it in a U shape mean the
    intervals are too narrow, a hump too wide, a slope a biased estimate.

    Args:
        pit: PIT values in [0, 1], any shape.
        n_bins: number of equal bins.
        prob: probability of the uniformity band.
        ax: matplotlib Axes to draw on (a new figure when None).
        title: axes title.
        path: also write the figure to this PNG file.

    Returns:
        the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if not 0 < prob < 1:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    counts, edges = pit_histogram(pit, n_bins)
    n = int(counts.sum())
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    low, high = stats.binom.interval(prob, n, 1.0 / n_bins)
    ax.axhspan(low, high, color="0.85", zorder=0,
               label=f"{100 * prob:g}% range if uniform")
    ax.axhline(n / n_bins, color="0.4", lw=0.8, ls="--")
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="C0",
           edgecolor="white", zorder=1, label="PIT values")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("PIT value F(truth)")
    ax.set_ylabel("count")
    ax.set_title(title or f"PIT histogram ({n} values)", fontsize="medium")
    ax.legend(fontsize=8, loc="upper center")
    return saved(ax, path)
