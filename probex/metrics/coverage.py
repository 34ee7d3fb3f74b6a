"""Coverage of credible intervals: how often they contain a reference value."""

from __future__ import annotations

import numpy as np

__all__ = ["interval_coverage"]


def interval_coverage(intervals, reference) -> float:
    """Fraction of intervals (..., 2) that contain the reference values (...).

    The BayesLIME calibration check (Slack et al., 2021, Sec. 5.1): intervals from a few
    perturbations against the attribution computed from many.
    """
    intervals = np.asarray(intervals, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if intervals.shape[-1] != 2 or intervals.shape[:-1] != reference.shape:
        raise ValueError(
            f"intervals {intervals.shape} must be reference's shape {reference.shape} plus (2,)"
        )
    if not (np.isfinite(intervals).all() and np.isfinite(reference).all()):
        raise ValueError("intervals and reference must be finite")
    inside = (intervals[..., 0] <= reference) & (reference <= intervals[..., 1])
    return float(inside.mean())
