"""Figures: ArviZ forest and trace plots of explanations, adaptive-design traces, and
ReCalX's temperatures against perturbation level; re-exported here, attribution figures
(:mod:`probex.plot_attributions`: ``bar``, ``waterfall``, ``batch_summary``,
``compare_attributions``) and model-checking figures (:mod:`probex.plot_checks`:
``plot_trace``, ``plot_rank``, ``plot_energy``, ``plot_pair``, ``plot_ppc``,
``sensitivity_curves``).

Each function takes the object it draws and then keyword-only options (as ArviZ's
``plot_*`` do); it returns matplotlib Axes and, given ``path``, also writes a PNG
atomically.
"""

from __future__ import annotations

import arviz as az
import numpy as np

__all__ = ["forest", "diagnostics", "design_trace", "plot_temperatures", "save_figure",
           "bar", "waterfall", "batch_summary", "compare_attributions", "plot_trace",
           "plot_rank", "plot_energy", "plot_pair", "plot_ppc", "sensitivity_curves"]


def save_figure(figure, path, *, dpi: int = 120):
    """Write a figure to ``path`` as PNG via a temporary file and a rename."""
    from probex._io import write_atomically

    return write_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi,
                                                             bbox_inches="tight"))


def forest(explanation, *, prob: float = 0.95, max_features: int | None = 30,
           diagnostics: bool = False, path=None, ax=None):
    """ArviZ forest plot of one instance's attributions, largest |mean| on top.

    Args:
        explanation: a single-instance :class:`~probex.Explanation`.
        prob: HDI probability of the bars.
        max_features: show only this many features (by |posterior mean|).
        diagnostics: add r_hat and ESS panels (needs sampled draws with >= 2 chains).
        path: also write a PNG here.
        ax: draw into these Axes (not with ``diagnostics``, which makes its own figure).
    """
    import matplotlib.pyplot as plt

    if explanation.is_batch:
        raise TypeError("plot one instance at a time: e[i].plot()")
    names = explanation.feature_names
    order = np.argsort(np.abs(explanation.mean), kind="stable")[::-1]
    if max_features is not None:
        order = order[:max_features]
    chosen = [names[j] for j in order]
    if ax is None and not diagnostics:
        _, ax = plt.subplots(figsize=(7, 0.3 * len(chosen) + 1.4))
    axes = az.plot_forest(
        explanation.idata, var_names=["attribution"], coords={"feature": chosen},
        combined=True, hdi_prob=prob, r_hat=diagnostics, ess=diagnostics,
        labeller=az.labels.NoVarLabeller(), ax=None if diagnostics else ax,
        figsize=(9, 0.3 * len(chosen) + 1.4) if diagnostics else None, textsize=9,
    )
    main = np.ravel(axes)[0]
    main.axvline(0.0, color="0.5", lw=0.8, ls=":")
    main.set_xlabel(f"attribution (posterior mean, 50% and {100 * prob:g}% HDI)",
                    fontsize=9)
    main.set_title(f"{explanation.method} ({explanation.inference}): {100 * prob:g}% HDI, "
                   f"{explanation.n_queries} queries", fontsize="medium")
    if path is not None:
        save_figure(main.figure, path)
    return axes


def diagnostics(explanation, *, var_names=("attribution", "noise_scale"), path=None):
    """ArviZ trace plot (per-chain densities and traces) of the posterior draws."""
    axes = az.plot_trace(explanation.idata, var_names=list(var_names), compact=True)
    if path is not None:
        save_figure(np.ravel(axes)[0].figure, path)
    return axes


def design_trace(explanation, *, path=None, ax=None):
    """Maximum interval width against queries spent, for adaptive designs."""
    import matplotlib.pyplot as plt

    trace = explanation.trace
    if trace is None:
        raise ValueError("this explanation has no design trace (it was not adaptive)")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(trace["n_queries"], trace["max_width"], "o-")
    ax.set_xlabel("black-box queries")
    ax.set_ylabel("largest interval width")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if path is not None:
        save_figure(ax.figure, path)
    return ax


def plot_temperatures(calibrated, *, prob: float = 0.9, truth=None,
                      reference: dict | None = None, ax=None, path=None):
    """Temperature T against perturbation level lambda for a fitted temperature-scaled
    black box (:class:`~probex.explainers.recalx.ReCalX` or ``TemperatureScaling``).

    Draws the step function used for predictions, with the posterior's central ``prob``
    band per bin (when there are draws), optional true temperatures ``truth`` (B,) and
    reference temperatures ``{label: T}`` as horizontal lines (e.g. global temperature
    scaling). Writes a PNG to ``path`` when given; returns the Axes.
    """
    import matplotlib.pyplot as plt

    table = calibrated.summary(prob)
    edges = calibrated.bin_edges
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))

    def steps(values):
        values = np.asarray(values, dtype=float)
        return np.append(values, values[-1])

    posterior = calibrated.idata.posterior
    if posterior.sizes["draw"] * posterior.sizes["chain"] > 1:
        ax.fill_between(edges, steps(table["lower"]), steps(table["upper"]), step="post",
                        alpha=0.3, color="C0", label=f"{100 * prob:g}% posterior interval")
    ax.step(edges, steps(table["temperature"]), where="post", color="C0", lw=2,
            label=f"ReCalX ({calibrated.inference})")
    if truth is not None:
        ax.step(edges, steps(truth), where="post", color="k", ls="--", lw=1.2, label="true T")
    for i, (label, value) in enumerate((reference or {}).items()):
        ax.axhline(float(value), color=f"C{i + 1}", ls="-.", lw=1.2, label=label)
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("perturbation level $\\lambda$ (fraction of features replaced)")
    ax.set_ylabel("temperature T")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    if path is not None:
        save_figure(ax.figure, path)
    return ax


from probex.plot_attributions import (  # noqa: E402  (they import save_figure lazily)
    bar,
    batch_summary,
    compare_attributions,
    waterfall,
)
from probex.plot_checks import (  # noqa: E402
    plot_energy,
    plot_pair,
    plot_ppc,
    plot_rank,
    plot_trace,
    sensitivity_curves,
)
