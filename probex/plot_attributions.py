"""Attribution figures people read: one instance as bars or a waterfall with intervals,
a batch as attribution against feature value (or a beeswarm), several explanations of
one instance side by side.

Every function takes the explanation(s) first and keyword-only options, returns the
matplotlib Axes (an array of them for grids) and, given ``path``, writes a PNG
atomically. Intervals are the explanation's ``hdi(prob)``: posterior intervals, or
Monte Carlo error bands, as its ``uncertainty`` says (written in the axis label).
"""

from __future__ import annotations

import numpy as np

from probex.figure_files import saved

__all__ = ["bar", "waterfall", "batch_summary", "compare_attributions",
           "POSITIVE", "NEGATIVE"]

POSITIVE, NEGATIVE = "#ff0051", "#008bfb"  # shap's colours: pushes up, pushes down
_WHAT = {"posterior": "posterior", "monte_carlo_error": "Monte Carlo",
         "selection_spread": "selection"}


def _single(explanation, what: str):
    if explanation.is_batch:
        raise TypeError(f"{what} draws one instance: pass e[i]")
    return explanation



def _instance_values(explanation):
    """The explained instance's feature values (d,), or None when not stored."""
    data = explanation.idata.constant_data if "constant_data" in explanation.idata.groups() \
        else None
    if data is None or "x" not in data:
        return None
    return np.asarray(data["x"].values, dtype=float).reshape(-1)


def _label(name: str, value) -> str:
    return name if value is None else f"{name} = {value:.4g}"


def _order(mean: np.ndarray, max_features: int | None) -> np.ndarray:
    order = np.argsort(-np.abs(mean), kind="stable")
    return order if max_features is None else order[:max_features]


def bar(explanation, *, prob: float = 0.95, max_features: int | None = 15,
        show_values: bool = True, ax=None, path=None):
    """Horizontal bars of one instance's attributions, largest |mean| on top, with
    ``prob`` interval whiskers; red pushes the output up, blue down. ``show_values``
    labels features with the instance's values (``name = value``)."""
    import matplotlib.pyplot as plt

    e = _single(explanation, "bar")
    mean, interval = e.mean, e.hdi(prob)
    order = _order(mean, max_features)[::-1]
    values = _instance_values(e) if show_values else None
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * len(order) + 1.5))
    rows = np.arange(len(order))
    colours = [POSITIVE if mean[j] >= 0 else NEGATIVE for j in order]
    ax.barh(rows, mean[order], color=colours, alpha=0.85, height=0.7)
    ax.errorbar(mean[order], rows, xerr=np.abs(interval[order].T - mean[order]), fmt="none",
                ecolor="0.2", elinewidth=1.2, capsize=3)
    ax.set_yticks(rows, [_label(e.feature_names[j], None if values is None else values[j])
                         for j in order])
    ax.axvline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel(f"attribution ({_WHAT.get(e.uncertainty, e.uncertainty)} mean, "
                  f"{100 * prob:g}% interval)")
    ax.set_title(f"{e.method} ({e.inference}), {e.n_queries} queries", fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    return saved(ax, path)


def _base_value(e) -> float:
    """E[f(baseline)] as the surrogate sees it: the design-based estimate's base value,
    or the posterior mean of the surrogate's intercept (its value at the empty mask)."""
    closed = e._closed
    if closed is not None and "base_value" in closed:
        return float(closed["base_value"].values)
    return float(e.idata.posterior["intercept"].mean())


def waterfall(explanation, *, prob: float = 0.95, max_features: int | None = 10,
              show_values: bool = True, ax=None, path=None):
    """shap's waterfall for one instance of a mask explanation: from the base value
    (the output with every feature replaced by the baseline) each feature's attribution
    is added in turn, largest |mean| last on top, to reach the surrogate's output at x;
    the remaining features are summed into one bar. Whiskers: each attribution's
    ``prob`` interval. The black box's own f(x) is marked for comparison.

    Needs additive attributions over masks (BayesSHAP, BayesLIME or EAGLE with
    ``perturbation="mask"``); Gaussian perturbations give local slopes, which do not add
    up to an output: use :func:`bar`.
    """
    import matplotlib.pyplot as plt

    e = _single(explanation, "waterfall")
    scheme = str(e.attrs.get("perturbation", ""))
    if "Mask" not in scheme and "coalition" not in scheme:
        raise ValueError(f"a waterfall adds attributions over masks; this explanation's "
                         f"perturbations are {scheme or 'unknown'} (local slopes, not "
                         "contributions): use probex.plots.bar")
    mean, interval = e.mean, e.hdi(prob)
    order = _order(mean, max_features)
    rest = np.setdiff1d(np.arange(len(mean)), order)
    values = _instance_values(e) if show_values else None
    names = [_label(e.feature_names[j], None if values is None else values[j]) for j in order]
    steps = list(mean[order][::-1])
    labels = names[::-1]
    errors = list(np.abs(interval[order].T - mean[order]).T[::-1])
    if len(rest):
        steps.insert(0, float(mean[rest].sum()))
        labels.insert(0, f"{len(rest)} other features")
        errors.insert(0, [np.nan, np.nan])
    base = _base_value(e)
    starts = base + np.concatenate([[0.0], np.cumsum(steps)[:-1]])
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.4 * len(steps) + 1.8))
    rows = np.arange(len(steps))
    colours = [POSITIVE if s >= 0 else NEGATIVE for s in steps]
    ax.barh(rows, steps, left=starts, color=colours, alpha=0.85, height=0.7)
    ends = starts + np.asarray(steps)
    ax.errorbar(ends, rows, xerr=np.asarray(errors, dtype=float).T, fmt="none", ecolor="0.2",
                elinewidth=1.2, capsize=3)
    ax.use_sticky_edges = False  # margins on both sides, also where bars start
    ax.margins(x=0.06)
    span = np.subtract(*ax.get_xlim()[::-1])
    for row, (start, step, error) in enumerate(zip(starts, steps, errors, strict=True)):
        if abs(step) > 0.12 * span:  # inside the bar
            ax.text(start + step / 2, row, f"{step:+.3g}", ha="center", va="center",
                    fontsize=8, color="white", fontweight="bold")
        else:  # beside it, past the whisker
            right = max(start, start + step) + np.nan_to_num(error[1] if step >= 0
                                                               else error[0])
            ax.text(right + 0.01 * span, row, f"{step:+.3g}", ha="left", va="center",
                    fontsize=8, color="0.2")
    ax.axvline(base, color="0.4", lw=0.8, ls=":")
    ax.axvline(ends[-1], color="0.2", lw=0.8, ls="--")
    ax.set_yticks(rows, labels)
    top = ax.secondary_xaxis("top")
    top.set_xticks([base, ends[-1]], [f"base {base:.3g}", f"surrogate at x {ends[-1]:.3g}"])
    prediction = e.idata.constant_data["prediction"] if "constant_data" in e.idata.groups() \
        else None
    if prediction is not None:
        fx = float(np.asarray(prediction.values).reshape(-1)[0])
        ax.plot([fx], [len(steps) - 0.5], marker="v", color="k", ms=8, ls="none",
                label=f"f(x) = {fx:.3g}")
        ax.legend(loc="lower right", fontsize="small")
    ax.set_xlabel(f"model output ({100 * prob:g}% interval of each attribution)")
    ax.set_title(f"{e.method} ({e.inference})", fontsize="medium", pad=22)
    ax.grid(axis="x", alpha=0.3)
    return saved(ax, path)


def batch_summary(explanation, *, X=None, features=None, max_features: int = 9,
                  prob: float = 0.95, kind: str = "dependence", ncols: int = 3,
                  path=None):
    """A batch at a glance.

    ``kind="dependence"``: one panel per feature (the ``max_features`` with the largest
    mean |attribution|, or ``features``), each instance's attribution against its
    feature value with ``prob`` interval whiskers, filled where the interval excludes 0.
    ``kind="beeswarm"``: one row per feature, each instance's attribution (x) coloured
    by its feature value (low blue, high red), with faint interval whiskers.

    Args:
        X: (B, d) feature values; default: those stored with the explanation (building
            its InferenceData).
    """
    import matplotlib.pyplot as plt

    from probex._checks import check_choice

    check_choice("kind", kind, ("dependence", "beeswarm"))
    if not explanation.is_batch:
        raise TypeError("batch_summary draws a batch; for one instance use bar or waterfall")
    mean, interval = explanation.mean, explanation.hdi(prob)
    if X is None:
        X = explanation.idata.constant_data["x"].values
    X = np.asarray(X, dtype=float)
    if X.shape != mean.shape:
        raise ValueError(f"X has shape {X.shape}; the explanation's attributions "
                         f"{mean.shape}")
    names = explanation.feature_names
    if features is None:
        chosen = np.argsort(-np.abs(mean).mean(0), kind="stable")[:max_features]
    else:
        unknown = [f for f in features if f not in names]
        if unknown:
            raise ValueError(f"unknown features {unknown}")
        chosen = np.array([names.index(f) for f in features])
    label = f"attribution ({100 * prob:g}% interval)"
    if kind == "beeswarm":
        return _beeswarm(explanation, X, mean, interval, chosen, label, path)
    nrows = int(np.ceil(len(chosen) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), squeeze=False)
    for ax, j in zip(axes.flat, chosen, strict=False):
        low, high = interval[:, j, 0], interval[:, j, 1]
        solid = (low > 0) | (high < 0)
        ax.vlines(X[:, j], low, high, color="0.6", lw=0.8, alpha=0.7)
        colours = np.where(mean[:, j] >= 0, POSITIVE, NEGATIVE)
        ax.scatter(X[solid, j], mean[solid, j], s=14, c=colours[solid], zorder=3)
        ax.scatter(X[~solid, j], mean[~solid, j], s=14, facecolors="none",
                   edgecolors=colours[~solid], zorder=3)
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set_title(names[j], fontsize="medium")
        ax.set_xlabel("feature value", fontsize="small")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(chosen):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(label, fontsize="small")
    fig.suptitle(f"{explanation.method}: {len(explanation)} instances (filled: interval "
                 "excludes 0)", fontsize="medium")
    fig.tight_layout()
    return saved(axes, path)


def _beeswarm(explanation, X, mean, interval, chosen, label, path):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)  # jitter only
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(chosen) + 1.6))
    cmap = plt.get_cmap("coolwarm")
    for row, j in enumerate(chosen[::-1]):
        low, high = np.nanpercentile(X[:, j], [5, 95])
        shade = np.clip((X[:, j] - low) / (high - low if high > low else 1.0), 0, 1)
        y = row + rng.uniform(-0.28, 0.28, size=len(mean))
        ax.hlines(y, interval[:, j, 0], interval[:, j, 1], color="0.75", lw=0.6, zorder=1)
        ax.scatter(mean[:, j], y, c=cmap(shade), s=12, zorder=2)
    ax.set_yticks(np.arange(len(chosen)), [explanation.feature_names[j]
                                           for j in chosen[::-1]])
    ax.axvline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel(label)
    colourbar = fig.colorbar(plt.cm.ScalarMappable(cmap=cmap), ax=ax, ticks=[0, 1],
                             fraction=0.04)
    colourbar.ax.set_yticklabels(["low", "high"])
    colourbar.set_label("feature value")
    ax.set_title(f"{explanation.method}: {len(explanation)} instances", fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    return saved(ax, path)


def compare_attributions(explanations: dict, *, prob: float = 0.95,
                         max_features: int | None = 15, labels: dict | None = None,
                         feature_labels: dict | None = None, title: str | None = None,
                         ax=None, path=None):
    """Several explanations of one instance side by side: per feature (largest |mean|
    over the explanations on top) each explanation's mean and ``prob`` interval, offset
    vertically. ``labels`` names the explanations in the legend, ``feature_labels``
    relabels features."""
    import matplotlib.pyplot as plt

    names = list(explanations)
    if not names:
        raise ValueError("nothing to compare")
    first = _single(explanations[names[0]], "compare_attributions")
    features = first.feature_names
    for name in names:
        if _single(explanations[name], "compare_attributions").feature_names != features:
            raise ValueError("the explanations must explain the same features")
    means = np.stack([explanations[n].mean for n in names])
    order = _order(np.abs(means).max(0), max_features)[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(order) * max(1, len(names) / 3) + 1.8))
    # the first explanation on top in each row, as in the legend
    offsets = np.linspace(0.3, -0.3, len(names)) if len(names) > 1 else np.zeros(1)
    rows = np.arange(len(order))
    for k, name in enumerate(names):
        e = explanations[name]
        interval = e.hdi(prob)[order]
        ax.errorbar(e.mean[order], rows + offsets[k],
                    xerr=np.abs(interval.T - e.mean[order]), fmt="o", ms=4, capsize=2,
                    color=f"C{k}", label=(labels or {}).get(name, name))
    relabel = feature_labels or {}
    ax.set_yticks(rows, [relabel.get(features[j], features[j]) for j in order])
    ax.axvline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel(f"attribution (mean and {100 * prob:g}% interval)")
    ax.legend(fontsize="small", loc="best")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize="medium")
    return saved(ax, path)
