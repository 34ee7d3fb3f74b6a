"""Figures: ArviZ forest and trace plots of explanations, adaptive-design traces,
ReCalX's temperatures against perturbation level and amortized explainers' training;
re-exported here, attribution figures (:mod:`probex.plot_attributions`: ``bar``,
``waterfall``, ``batch_summary``, ``compare_attributions``) and model-checking figures
(:mod:`probex.plot_checks`: ``plot_trace``, ``plot_rank``, ``plot_energy``, ``plot_pair``,
``plot_ppc``, ``sensitivity_curves``).

Each function takes the object it draws and then keyword-only options (as ArviZ's
``plot_*`` do); it returns matplotlib Axes and, given ``path``, also writes a PNG
atomically.
"""

from __future__ import annotations

import arviz as az
import numpy as np

from probex.figure_files import save_figure, saved
from probex.plot_attributions import (
    bar,
    batch_summary,
    compare_attributions,
    waterfall,
)
from probex.plot_checks import (
    plot_energy,
    plot_pair,
    plot_ppc,
    plot_rank,
    plot_trace,
    sensitivity_curves,
)

__all__ = ["forest", "diagnostics", "design_trace", "plot_temperatures", "plot_training",
           "save_figure", "bar", "waterfall", "batch_summary", "compare_attributions",
           "plot_trace", "plot_rank", "plot_energy", "plot_pair", "plot_ppc",
           "sensitivity_curves"]


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
    return saved(axes, path)


def diagnostics(explanation, *, var_names=("attribution", "noise_scale"), path=None):
    """ArviZ trace plot (per-chain densities and traces) of the posterior draws."""
    axes = az.plot_trace(explanation.idata, var_names=list(var_names), compact=True)
    return saved(axes, path)


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
    return saved(ax, path)


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
    return saved(ax, path)


def plot_training(history, *, score: str | None = None, reward: str = "reward",
                  best_epoch: int | None = None, ax=None, path=None):
    """An amortized explainer's training: the per-step ``reward`` (a moving average) and,
    when the history has it, a held-out ``score`` per epoch (e.g. FEX's
    ``holdout_deletion_auc``, error bars: its paired standard error against the best
    epoch) on a second axis, with ``best_epoch`` marked. Returns the Axes (the reward's);
    given ``path``, also writes a PNG.

    Args:
        history: the explainer's ``history_`` DataFrame (``step``, ``epoch``, stats).
        score: the held-out column (default: the first column named ``holdout_*``
            without ``_se``).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    if score is None:
        score = next((c for c in history.columns
                      if c.startswith("holdout_") and not c.endswith("_se")), None)
    if reward in history.columns:
        values = history[reward].to_numpy(dtype=float)
        window = max(1, len(values) // 50)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        epochs = history["epoch"].to_numpy()[window - 1:] + 1
        steps_per_epoch = max(1, int((history["epoch"] == history["epoch"].iloc[0]).sum()))
        position = (history["step"].to_numpy()[window - 1:] % steps_per_epoch + 1)
        ax.plot(epochs - 1 + position / steps_per_epoch, smooth, color="C0", lw=1.2)
        ax.set_ylabel(f"training {reward} (moving average)", color="C0")
    ax.set_xlabel("epoch")
    if score is not None and score in history.columns:
        rows = history.dropna(subset=[score])
        other = ax.twinx()
        se = rows.get(f"{score}_se")
        other.errorbar(rows["epoch"] + 1, rows[score],
                       yerr=None if se is None else se.fillna(0).to_numpy(),
                       color="C1", marker="o", ms=3, lw=1.2, capsize=2)
        label = score.replace("holdout_", "held-out ").replace("_auc", " AUC")
        other.set_ylabel(label.replace("_", " "), color="C1")
        if best_epoch is not None:
            other.axvline(best_epoch + 1, color="C1", ls=":", lw=1,
                          label=f"kept: epoch {best_epoch + 1}")
            other.legend(fontsize="small", loc="upper right")
    ax.grid(alpha=0.3)
    return saved(ax, path)
