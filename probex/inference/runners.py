"""From an ``inference=`` argument to the object that computes the posterior.

One resolver for every method: a label (``"auto"``, ``"exact"``, ``"map"``,
``"laplace"``, ``"svi"``, ``"nuts"``) or a configured runner object. Each method names
the labels it supports and the defaults of the runners it builds (a temperature model
wants other SVI/NUTS settings than a linear surrogate); the explainer passes its own
``seed`` to the runner's ``run`` at every call, so a runner a user configured once runs
with the explainer's seed.
"""

from __future__ import annotations

from probex._checks import check_choice
from probex.inference.map import MAPRunner
from probex.inference.nuts import NUTSRunner
from probex.inference.svi import SVIRunner

__all__ = ["RUNNER_TYPES", "resolve_runner"]

RUNNER_TYPES = (MAPRunner, SVIRunner, NUTSRunner)


def resolve_runner(inference, *, choices: tuple[str, ...], conjugate: bool = False,
                   device=None, progress: bool | None = None,
                   svi_options: dict | None = None, nuts_options: dict | None = None):
    """``"exact"`` or a runner for the requested inference.

    Args:
        inference: a label in ``choices`` or a ``MAPRunner`` / ``SVIRunner`` /
            ``NUTSRunner`` (returned as it is).
        choices: the labels the method supports.
        conjugate: whether a closed-form posterior exists (``"exact"`` allowed, and
            what ``"auto"`` picks; otherwise ``"auto"`` means NUTS).
        svi_options, nuts_options: constructor options of the runners built from a label.

    Raises:
        ValueError: for an unknown label, or ``"exact"`` without a conjugate prior.
    """
    if isinstance(inference, RUNNER_TYPES):
        return inference
    if not isinstance(inference, str):
        options = ", ".join(repr(c) for c in choices)
        raise TypeError(f"inference must be one of {options} or a runner object "
                        f"(MAPRunner, SVIRunner, NUTSRunner), not {type(inference).__name__}")
    check_choice("inference", inference, choices)
    if inference == "auto":
        inference = "exact" if conjugate else "nuts"
    if inference == "exact":
        if not conjugate:
            raise ValueError("inference='exact' needs the conjugate NormalInverseGamma prior; "
                             "use inference='nuts' or 'svi'")
        return "exact"
    if inference in ("map", "laplace"):
        return MAPRunner(laplace=inference == "laplace", device=device)
    if inference == "svi":
        return SVIRunner(device=device, progress=progress, **(svi_options or {}))
    return NUTSRunner(device=device, progress=progress, **(nuts_options or {}))
