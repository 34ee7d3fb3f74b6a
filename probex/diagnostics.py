"""Warnings probex raises when a result should not be trusted as it stands.

Filter or escalate them with the standard ``warnings`` machinery, e.g.
``warnings.simplefilter("error", px.SamplingWarning)`` to stop at the first sampler that
did not converge. Every warning names the instance, the site and the figure, and the
same verdict is recorded on the result (``Explanation.attrs["diagnostics"]``) and shown
by ``summary()`` and the command line.

Progress information that is not a warning goes to the standard :mod:`logging` logger
``"probex"``.
"""

from __future__ import annotations

__all__ = ["ProbexWarning", "SamplingWarning", "ConvergenceWarning", "DataWarning",
           "FidelityWarning"]


class ProbexWarning(UserWarning):
    """Base class of every warning probex raises."""


class SamplingWarning(ProbexWarning):
    """A sampler's diagnostics fail their thresholds: divergences, r_hat, effective
    sample size, energy (BFMI), or a Monte Carlo error that cannot be trusted."""


class ConvergenceWarning(ProbexWarning):
    """An optimiser (SVI, MAP, training) stopped before it converged."""


class DataWarning(ProbexWarning):
    """The data make the answer degenerate, e.g. a background equal to the instance."""


class FidelityWarning(ProbexWarning):
    """An explainer's attributions are not clearly more faithful than random orderings
    (e.g. :meth:`probex.FEX.fidelity` on a sample of rows): do not trust them."""
