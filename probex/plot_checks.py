"""Model-checking figures of one explanation, ArviZ's with the features named: trace,
rank, energy, pair and posterior / prior predictive plots, and the prior-sensitivity
curves of :func:`probex.workflow.prior_sensitivity`.

Features are chosen by name (``features=["bmi", "s5"]``; default: the largest |mean|),
which ArviZ receives as coordinates of the ``feature`` dimension, so panel titles name
them. A batch is drawn one instance at a time (``instance=i``). Each function returns
ArviZ's Axes and, given ``path``, writes a PNG.
"""

from __future__ import annotations

import numpy as np

from probex.figure_files import saved

__all__ = ["plot_trace", "plot_rank", "plot_energy", "plot_pair", "plot_ppc",
           "sensitivity_curves"]


def _one(explanation, instance):
    if explanation.is_batch:
        if instance is None:
            raise TypeError("this explanation holds a batch: choose one with instance=i")
        return explanation[instance]
    return explanation


def _features(explanation, features, default: int) -> list[str]:
    names = explanation.feature_names
    if features is None:
        order = np.argsort(-np.abs(explanation.mean), kind="stable")[:default]
        return [names[j] for j in order]
    features = [features] if isinstance(features, str) else list(features)
    unknown = [f for f in features if f not in names]
    if unknown:
        raise ValueError(f"unknown features {unknown}; the explanation's are {names}")
    return features


def _sampled(explanation, what: str):
    if "sample_stats" not in explanation.idata.groups():
        raise ValueError(f"{what} reads a sampler's statistics; this {explanation.inference} "
                         "explanation has none (exact posteriors are iid draws of a closed "
                         "form: nothing to diagnose)")



def plot_trace(explanation, *, features=None, max_features: int = 4, instance=None,
               noise: bool = True, path=None):
    """Per-chain densities and traces of the chosen attributions (one row each) and of
    the noise scale."""
    import arviz as az

    e = _one(explanation, instance)
    chosen = _features(e, features, max_features)
    var_names = ["attribution"] + (["noise_scale"] if noise and "noise_scale"
                                   in e.idata.posterior else [])
    rows = len(chosen) + len(var_names) - 1
    axes = az.plot_trace(e.idata, var_names=var_names, coords={"feature": chosen},
                         compact=False, figsize=(10, 2.3 * rows))
    for ax in np.ravel(axes):
        ax.set_title(ax.get_title().replace("\n", ": "), fontsize="medium")
    axes[0, 0].figure.tight_layout()
    return saved(axes, path)


def plot_rank(explanation, *, features=None, max_features: int = 4, instance=None,
              path=None):
    """Rank histograms per chain of the chosen attributions (uniform when the chains
    mix; Vehtari et al., 2021)."""
    import arviz as az

    e = _one(explanation, instance)
    _sampled(e, "plot_rank")
    chosen = _features(e, features, max_features)
    axes = az.plot_rank(e.idata, var_names=["attribution"], coords={"feature": chosen},
                        figsize=(3.2 * len(chosen), 2.8))
    return saved(axes, path)


def plot_energy(explanation, *, instance=None, path=None):
    """The marginal energy and energy-transition distributions with each chain's
    E-BFMI (below 0.3: the sampler explores the tails poorly; Betancourt, 2017)."""
    import arviz as az

    e = _one(explanation, instance)
    _sampled(e, "plot_energy")
    axes = az.plot_energy(e.idata, figsize=(6, 4))
    np.ravel(axes)[0].set_title(f"{e.method} ({e.inference}): energy, per-chain E-BFMI",
                                fontsize="medium")
    return saved(axes, path)


def plot_pair(explanation, *, features=None, max_features: int = 3, instance=None,
              divergences: bool = True, path=None):
    """Pairwise scatter of the chosen attributions' draws, divergent transitions marked
    (exact posteriors: their iid draws, no divergences)."""
    import arviz as az

    e = _one(explanation, instance)
    chosen = _features(e, features, max_features)
    if len(chosen) < 2:
        raise ValueError("a pair plot needs at least two features")
    divergences = divergences and "sample_stats" in e.idata.groups()
    axes = az.plot_pair(e.idata, var_names=["attribution"], coords={"feature": chosen},
                        divergences=divergences, kind="scatter",
                        scatter_kwargs={"alpha": 0.35, "s": 6, "color": "C0"},
                        figsize=(2.6 * len(chosen), 2.6 * len(chosen)))
    return saved(axes, path)


def plot_ppc(explanation, *, group: str = "posterior", num_pp_samples: int = 50,
             instance=None, path=None):
    """The black box's answers at the perturbations against the surrogate's replicated
    answers (``group="posterior"``) or the prior's (``"prior"``): densities of all
    perturbations pooled."""
    import arviz as az

    e = _one(explanation, instance)
    needed = f"{group}_predictive"
    if needed not in e.idata.groups():
        option = "prior_predictive=True" if group == "prior" else "predictive=True"
        raise ValueError(f"this explanation has no {needed} group: explain with {option} "
                         f"({e.attrs.get('predictive_groups', 'no data kept')})")
    axes = az.plot_ppc(e.idata, group=group, num_pp_samples=num_pp_samples,
                       observed=True, random_seed=0, figsize=(6, 4))
    ax = np.ravel(axes)[0]
    ax.set_xlabel("black-box answer at the perturbations")
    ax.set_title(f"{group} predictive check: {e.method} ({e.inference})", fontsize="medium")
    return saved(axes, path)


def sensitivity_curves(result, *, max_features: int | None = 12, ncols: int = 4, path=None):
    """Each feature's posterior mean and interval against the prior scale (log axis),
    one panel per feature; features whose importance depends on the prior are titled in
    red, those the prior moves by more than one posterior sd say so; ``result`` from
    :func:`probex.workflow.prior_sensitivity` with ``scales``."""
    import matplotlib.pyplot as plt

    if result.scales is None:
        raise ValueError("sensitivity curves need a sweep over scales")
    table = result.table if max_features is None else result.table.iloc[:max_features]
    names = list(result.explanations)
    scales = np.asarray(result.scales)
    nrows = int(np.ceil(len(table) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.5 * nrows), squeeze=False,
                             sharex=True)
    for ax, feature in zip(axes.flat, table.index, strict=False):
        rows = result.attributions.xs(feature, level="feature").loc[names]
        ax.fill_between(scales, rows["lower"], rows["upper"], alpha=0.25, color="C0")
        ax.plot(scales, rows["mean"], "o-", color="C0", ms=3)
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set_xscale("log")
        sensitive = bool(table.loc[feature, "sensitive"])
        note = (" (importance depends on the prior)" if sensitive
                else " (moves > 1 sd)" if bool(table.loc[feature, "moves"]) else "")
        ax.set_title(feature + note, fontsize="small", color="C3" if sensitive else "k")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(table):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("prior scale")
    fig.suptitle(f"posterior mean and {100 * result.prob:g}% interval against the prior "
                 f"scale ({result.n_queries} queries, the same for every scale)",
                 fontsize="medium")
    fig.tight_layout()
    return saved(axes, path)
