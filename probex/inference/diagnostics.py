"""Diagnostics of sampled and optimised posteriors, and the warnings that report them.

Thresholds (Vehtari et al., 2021, "Rank-normalization, folding, and localization: an
improved R-hat"; Betancourt, 2017, "A conceptual introduction to Hamiltonian Monte
Carlo"):

- any divergent transition after warmup;
- rank-normalised split r_hat above 1.01 (needs >= 2 chains);
- bulk or tail effective sample size below 100 per chain (so that r_hat and the Monte
  Carlo error of the reported quantiles are themselves reliable);
- E-BFMI below 0.3 in any chain, where the sampler records ``energy``;
- SVI whose smoothed loss still moved by more than ``SVI_RELATIVE_CHANGE`` of its scale
  over the last tenth of the steps; a MAP optimiser that did not meet its tolerance.

:func:`diagnose` turns a :class:`~probex.inference.draws.PosteriorDraws` into a
:class:`Verdict`; :func:`warn` raises a :class:`~probex.diagnostics.SamplingWarning` or
:class:`~probex.diagnostics.ConvergenceWarning` naming the site, the instance and the
figure.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

from probex.diagnostics import ConvergenceWarning, SamplingWarning
from probex.inference.batch_diagnostics import ess_bulk, ess_tail, rhat_rank
from probex.inference.draws import PosteriorDraws

__all__ = ["Verdict", "diagnose", "warn", "R_HAT_MAX", "ESS_PER_CHAIN_MIN", "BFMI_MIN",
           "SVI_RELATIVE_CHANGE"]

R_HAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3
SVI_RELATIVE_CHANGE = 0.01
_SHOWN = 5  # problems listed in one warning

logger = logging.getLogger("probex")


@dataclass
class Verdict:
    """What the diagnostics found.

    Attributes:
        method: ``"nuts"``, ``"svi"``, ``"map"``, ...
        problems: one line per failed check, naming the site, the instance and the figure.
        figures: the summary numbers (n_divergent, max_r_hat, min_ess_bulk, min_ess_tail,
            min_bfmi, svi_relative_change), NaN where not computed.
        kind: ``"sampling"`` or ``"convergence"`` (which warning class reports it).
    """

    method: str
    problems: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    kind: str = "sampling"

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """``"ok"`` or the problems joined by ``"; "`` (what goes into metadata)."""
        return "ok" if self.ok else "; ".join(self.problems)

    def attrs(self) -> dict:
        """Metadata for an Explanation: the verdict and its figures."""
        return {"diagnostics": self.summary(),
                **{f"diagnostics_{k}": float(v) for k, v in self.figures.items()}}


def _where(name: str, index: tuple) -> str:
    return name + ("[" + ", ".join(str(i) for i in index) + "]" if index else "")


def _site_checks(name: str, values: np.ndarray, n_chains: int) -> tuple[list, dict]:
    """r_hat and bulk/tail ESS of every element of a site (chain, draw, *shape), all
    elements at once (:mod:`probex.inference.batch_diagnostics`, ArviZ's numbers)."""
    problems, figures = [], {}
    shape = values.shape[2:]
    flat = values.reshape(values.shape[0], values.shape[1], -1)
    if not np.all(np.isfinite(flat)):
        return [f"{name}: non-finite draws"], figures
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        r_hat = rhat_rank(flat) if n_chains >= 2 else None
        bulk, tail = ess_bulk(flat), ess_tail(flat)
    minimum = ESS_PER_CHAIN_MIN * n_chains
    if r_hat is not None:
        worst = int(np.nanargmax(r_hat))
        figures["max_r_hat"] = float(r_hat[worst])
        if r_hat[worst] > R_HAT_MAX:
            bad = int(np.sum(r_hat > R_HAT_MAX))
            problems.append(f"{_where(name, np.unravel_index(worst, shape))}: r_hat "
                            f"{r_hat[worst]:.3f} > {R_HAT_MAX} ({bad} of {r_hat.size} "
                            "elements)")
    for label, ess in (("bulk", bulk), ("tail", tail)):
        worst = int(np.nanargmin(ess))
        figures[f"min_ess_{label}"] = float(ess[worst])
        if ess[worst] < minimum:
            problems.append(f"{_where(name, np.unravel_index(worst, shape))}: {label} ESS "
                            f"{ess[worst]:.0f} < {minimum} ({ESS_PER_CHAIN_MIN} per chain)")
    return problems, figures


def _bfmi(energy: np.ndarray) -> np.ndarray:
    """E-BFMI of each chain (and instance) from energies (chain, draw, k) -> (chain, k)."""
    diffs = np.diff(energy, axis=1)
    return (diffs**2).mean(1) / np.maximum(energy.var(1), 1e-300)


def diagnose(draws: PosteriorDraws, sites: list[str] | None = None) -> Verdict:
    """Check the draws of a sampler, or the loss trace of an optimiser."""
    method = draws.method
    if method == "svi":
        return _svi_verdict(draws)
    if method in ("map", "laplace"):
        verdict = Verdict(method, kind="convergence")
        if draws.info.get("converged") is False:
            verdict.problems.append(f"{method}: the optimiser stopped before its gradient "
                                    "tolerance was met")
        return verdict
    verdict = Verdict(method)
    stats = draws.sample_stats
    shape = (draws.n_chains, draws.n_draws, -1)  # NumPyro's stats carry an instance axis
    if "diverging" in stats:
        diverging = np.asarray(stats["diverging"], dtype=bool).reshape(shape)
        n_div = int(diverging.sum())
        verdict.figures["n_divergent"] = n_div
        if n_div:
            per_chain = ", ".join(str(int(c)) for c in diverging.sum((1, 2)))
            where = ""
            if diverging.shape[2] > 1:
                rows = np.flatnonzero(diverging.any((0, 1)))
                where = f"; instances {', '.join(map(str, rows[:8]))}"
            verdict.problems.append(f"{n_div} of {diverging.size} draws diverged (per chain: "
                                    f"{per_chain}{where})")
    if "energy" in stats:
        bfmi = _bfmi(np.asarray(stats["energy"], dtype=float).reshape(shape))  # (chain, k)
        verdict.figures["min_bfmi"] = float(bfmi.min())
        if bfmi.min() < BFMI_MIN:
            chain, instance = np.unravel_index(int(bfmi.argmin()), bfmi.shape)
            which = f"chain {chain}" + (f", instance {instance}" if bfmi.shape[1] > 1 else "")
            verdict.problems.append(f"E-BFMI {bfmi.min():.2f} < {BFMI_MIN} in {which}")
    for name in sites or list(draws.posterior):
        problems, figures = _site_checks(name, np.asarray(draws.posterior[name], dtype=float),
                                         draws.n_chains)
        verdict.problems.extend(problems)
        for key, value in figures.items():
            worse = max if key == "max_r_hat" else min
            verdict.figures[key] = worse(value, verdict.figures.get(key, value))
    return verdict


def _svi_verdict(draws: PosteriorDraws) -> Verdict:
    verdict = Verdict("svi", kind="convergence")
    losses = np.asarray(draws.info.get("loss", []), dtype=float)
    if losses.size >= 20:
        tenth = max(losses.size // 10, 1)
        last, before = losses[-tenth:].mean(), losses[-2 * tenth:-tenth].mean()
        scale = max(abs(last), np.std(losses[-tenth:]), 1.0)
        change = abs(before - last) / scale
        verdict.figures["svi_relative_change"] = float(change)
        if change > SVI_RELATIVE_CHANGE:
            verdict.problems.append(f"SVI: the ELBO loss still moved by {change:.3g} of its "
                                    f"scale over the last {tenth} of {losses.size} steps "
                                    "(not converged: raise num_steps)")
    elif losses.size:
        verdict.problems.append(f"SVI ran only {losses.size} steps: too few to tell "
                                "convergence")
    return verdict


def warn(verdict: Verdict, what: str = "", stacklevel: int = 3) -> None:
    """Raise the warning that reports ``verdict`` (nothing when it is ok), and log it."""
    if verdict.ok:
        logger.info("%s%s diagnostics ok: %s", what and what + ": ", verdict.method,
                    verdict.figures)
        return
    shown = verdict.problems[:_SHOWN]
    more = len(verdict.problems) - len(shown)
    text = (f"{what + ': ' if what else ''}{verdict.method} results may not be trusted: "
            + "; ".join(shown) + (f"; and {more} more" if more > 0 else ""))
    category = SamplingWarning if verdict.kind == "sampling" else ConvergenceWarning
    logger.warning(text)
    warnings.warn(text, category, stacklevel=stacklevel)
