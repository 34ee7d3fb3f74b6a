"""Is this feature important, or is it my prior? How attributions move across priors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from probex._checks import check_probability
from probex.explanation import Explanation
from probex.workflow.compare import attribution_table
from probex.workflow.refit import as_surrogate_explainer, explain_with_priors, named_priors

__all__ = ["prior_sensitivity", "PriorSensitivity", "SHIFT_IN_SD"]

#: a posterior mean that moves by more than this many posterior sds across the priors
#: is flagged as prior-driven
SHIFT_IN_SD = 1.0


@dataclass
class PriorSensitivity:
    """The result of :func:`prior_sensitivity`.

    Attributes:
        table: one row per feature (ordered by the largest |mean|): ``mean_min``,
            ``mean_max``, ``shift`` (their difference), ``shift_in_sd`` (shift over the
            median posterior sd), ``width_ratio`` (widest over narrowest interval),
            ``excludes_zero`` (how many priors' intervals exclude 0), ``sign_agrees``,
            ``moves`` (shift_in_sd above :data:`SHIFT_IN_SD`: the prior moves the value
            by more than the posterior's own uncertainty) and ``sensitive`` (whether the
            feature is important depends on the prior: the priors disagree on whether
            its interval excludes 0, or its sign flips while some interval excludes 0).
            ``robust`` features have intervals excluding 0 under every prior.
        attributions: long table over (prior, feature): mean, sd, lower, upper.
        explanations: ``{name: Explanation}``.
        scales: the prior scales when the priors were a family over ``scales``.
        n_queries: black-box rows spent (once).
        prob: the interval probability.
    """

    table: pd.DataFrame
    attributions: pd.DataFrame
    explanations: dict[str, Explanation]
    n_queries: int
    prob: float
    scales: list[float] | None = None

    @property
    def sensitive_features(self) -> list[str]:
        """Features whose importance depends on the prior."""
        return list(self.table.index[self.table["sensitive"]])

    @property
    def robust_features(self) -> list[str]:
        """Features whose interval excludes 0 under every prior."""
        n_priors = len(self.explanations)
        return list(self.table.index[self.table["excludes_zero"] == n_priors])

    def plot(self, *, max_features: int | None = 12, ax=None, path=None):
        """Scales given: each feature's posterior mean and interval against the prior
        scale (log axis); otherwise the priors side by side
        (:func:`probex.plots.compare_attributions`). Features whose importance depends
        on the prior are marked."""
        from probex.plots import compare_attributions, sensitivity_curves

        if self.scales is not None:
            if ax is not None:
                raise ValueError("a sweep over scales draws one panel per feature: its own "
                                 "figure, not ax=")
            return sensitivity_curves(self, max_features=max_features, path=path)
        marked = {f: f"{f} *" for f in self.sensitive_features}
        return compare_attributions(self.explanations, prob=self.prob,
                                    max_features=max_features, ax=ax, path=path,
                                    feature_labels=marked,
                                    title="attributions under each prior (* prior-sensitive)")


def sensitivity_table(attributions: pd.DataFrame) -> pd.DataFrame:
    """Per-feature movement of the attributions in a (prior, feature) table."""
    by_feature = attributions.groupby(level="feature", sort=False)
    excludes = (attributions["lower"] > 0) | (attributions["upper"] < 0)
    width = attributions["upper"] - attributions["lower"]
    table = pd.DataFrame({
        "mean_min": by_feature["mean"].min(), "mean_max": by_feature["mean"].max()})
    table["shift"] = table["mean_max"] - table["mean_min"]
    table["shift_in_sd"] = table["shift"] / by_feature["sd"].median()
    table["width_ratio"] = (width.groupby(level="feature", sort=False).max()
                            / width.groupby(level="feature", sort=False).min())
    n_priors = attributions.index.get_level_values("prior").nunique()
    table["excludes_zero"] = excludes.groupby(level="feature", sort=False).sum().astype(int)
    signs = np.sign(attributions["mean"]).groupby(level="feature", sort=False)
    table["sign_agrees"] = (signs.min() == signs.max()).to_numpy()
    table["moves"] = table["shift_in_sd"] > SHIFT_IN_SD
    disagree = (table["excludes_zero"] > 0) & (table["excludes_zero"] < n_priors)
    table["sensitive"] = disagree | (~table["sign_agrees"] & (table["excludes_zero"] > 0))
    order = np.argsort(-np.maximum(table["mean_max"].abs(), table["mean_min"].abs())
                       .to_numpy(), kind="stable")
    return table.iloc[order]


def prior_sensitivity(explainer_or_bb, x, priors, n_samples: int | None = None, *,
                      scales=None, prob: float = 0.95, target=None, inference=None,
                      background=None, seed: int = 0, **options) -> PriorSensitivity:
    """How much each attribution's posterior mean and interval move across priors.

    Every prior is fitted to the same perturbations and answers (one set of queries), so
    whatever moves is the prior's doing. Two questions are answered per feature: does
    the prior move its value by more than :data:`SHIFT_IN_SD` posterior sds (``moves``:
    read its size with the prior in mind), and does its importance depend on the prior
    (``sensitive``: its interval excludes 0 under some priors but not others, or its
    sign flips): then more queries, or a prior argued for on other grounds, are needed
    before reading it. ``robust_features`` are important under every prior.

    Args:
        explainer_or_bb: a surrogate explainer, or a black box explained with BayesLIME
            and ``background``.
        x: one instance (d,).
        priors: ``{name: prior}`` or a list of priors; or, with ``scales``, a function
            ``scale -> prior`` (``lambda s: px.priors.Laplace(scale=s)``).
        scales: prior scales to sweep (at least two).
        prob: interval probability.
        n_samples, target, inference, background, seed, options: as
            :func:`~probex.workflow.compare_priors`.
    """
    prob = check_probability("prob", prob)
    explainer = as_surrogate_explainer(explainer_or_bb, background, seed)
    named = named_priors(priors, scales)
    explanations, n_queries = explain_with_priors(explainer, x, named, n_samples,
                                                  target=target, inference=inference,
                                                  **options)
    attributions = attribution_table(explanations, prob)
    return PriorSensitivity(table=sensitivity_table(attributions), attributions=attributions,
                            explanations=explanations, n_queries=n_queries, prob=prob,
                            scales=None if scales is None else [float(s) for s in scales])
