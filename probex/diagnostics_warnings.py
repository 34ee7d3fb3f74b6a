"""Warning classes of probex: filter them by class, not by message text.

    import warnings, probex
    warnings.simplefilter("error", probex.diagnostics_warnings.SamplingWarning)

:class:`ProbexWarning` is the parent of every warning probex raises on purpose, so
``warnings.simplefilter("ignore", ProbexWarning)`` silences them all.
"""

from __future__ import annotations

__all__ = ["ProbexWarning", "SamplingWarning"]


class ProbexWarning(UserWarning):
    """Base class of the warnings probex raises."""


class SamplingWarning(ProbexWarning):
    """A Monte Carlo error (or a posterior built on samples) cannot be trusted as reported:
    e.g. the terms averaged are so heavy-tailed (Pareto shape k above the threshold for
    the sample size) that the sample variance underestimates the estimator's spread."""
