"""Which prior describes the black box's local behaviour best: PSIS-LOO over priors."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import arviz as az
import pandas as pd

from probex._checks import check_choice
from probex.explanation import Explanation
from probex.workflow.refit import as_surrogate_explainer, explain_with_priors, named_priors

__all__ = ["compare_priors", "PriorComparison", "attribution_table"]


@dataclass
class PriorComparison:
    """The result of :func:`compare_priors`.

    Attributes:
        table: ``az.compare``'s table, one row per prior, best first: ``elpd_loo`` (or
            ``elpd_waic``), ``p_loo``, ``elpd_diff`` and its standard error ``dse``,
            stacking ``weight``, ``se``, ``warning`` (Pareto k above 0.7 somewhere).
        explanations: ``{name: Explanation}`` in the order the priors were given.
        n_queries: black-box rows spent, once for every prior.
        ic: ``"loo"`` or ``"waic"``.
    """

    table: pd.DataFrame
    explanations: dict[str, Explanation]
    n_queries: int
    ic: str = "loo"

    @property
    def best(self) -> str:
        """The prior with the highest expected log predictive density."""
        return str(self.table.index[0])

    def attributions(self, prob: float = 0.95) -> pd.DataFrame:
        """Long table over (prior, feature): mean, sd and the ``prob`` interval."""
        return attribution_table(self.explanations, prob)

    def plot(self, *, prob: float = 0.95, max_features: int | None = 15, ax=None, path=None):
        """The attributions under each prior side by side, with ``prob`` intervals, the
        legend giving each prior's elpd and stacking weight; see
        :func:`probex.plots.compare_attributions`."""
        from probex.plots import compare_attributions

        column = f"elpd_{self.ic}"
        labels = {name: f"{name}: {column} {self.table.loc[name, column]:.1f}, weight "
                        f"{self.table.loc[name, 'weight']:.2f}" for name in self.explanations}
        return compare_attributions(self.explanations, prob=prob, max_features=max_features,
                                    labels=labels, ax=ax, path=path,
                                    title=f"priors compared on the same {self.n_queries} "
                                          "queries")


def attribution_table(explanations: dict[str, Explanation], prob: float = 0.95
                      ) -> pd.DataFrame:
    """mean, sd, lower and upper ``prob`` bounds of single-instance explanations, indexed
    by (prior, feature)."""
    frames = []
    for name, e in explanations.items():
        interval = e.hdi(prob)
        frames.append(pd.DataFrame({"prior": name, "feature": e.feature_names, "mean": e.mean,
                                    "sd": e.sd, "lower": interval[:, 0],
                                    "upper": interval[:, 1]}))
    return pd.concat(frames).set_index(["prior", "feature"])


def compare_priors(explainer_or_bb, x, priors, n_samples: int | None = None, *,
                   target=None, inference=None, ic: str = "loo", background=None,
                   seed: int = 0, prior_predictive: bool = False, **options
                   ) -> PriorComparison:
    """Fit several priors to the same perturbations of x and rank them by PSIS-LOO.

    The black box is queried once (the explainer's design and budget); each prior's
    posterior is computed on those answers (:func:`~probex.workflow.refit.explain_with_priors`)
    and the explanations' pointwise log-likelihoods go to ``az.compare``.

    What elpd means here: elpd_loo = sum_i log p(y_i | y_-i) scores how well the local
    surrogate, fitted to the other perturbations, predicts the black box's answer y_i at
    a left-out perturbation z_i, under its own likelihood
    y_i ~ N(b + phi^T z_i, sigma^2 / w_i): predictive fit over the perturbation
    neighbourhood, each row counted once and weighted through its noise variance (a row
    far from x, with a small kernel weight w_i, is allowed a wide prediction, so it
    neither helps nor hurts much). The stacking weights say which mixture of the priors'
    predictions fits best.

    Its limits:

    - it scores the surrogate's predictions of answers, not the attributions: a prior can
      predict as well and attribute differently (then the queries cannot tell the priors
      apart, and the attributions differ because of the prior: see
      :func:`~probex.workflow.prior_sensitivity`), and no elpd says an attribution is
      faithful to the black box beyond the neighbourhood sampled;
    - it is relative to the neighbourhood: the perturbation scheme, kernel and width
      define the rows being predicted, so elpds compare priors on the same queries only
      (which this function guarantees), never across schemes or instances;
    - the black box is deterministic: the "noise" is the misfit of a linear surrogate to
      a curved function, so the Gaussian likelihood is misspecified and the rows are
      not exchangeable draws of a true model; LOO still estimates the fit to new
      perturbations drawn the same way, but ``se`` and ``dse`` assume independent rows;
    - with many perturbations per feature the likelihood dominates and priors differ by
      less than ``dse``: an elpd_diff under about 2 dse is no evidence either way;
    - ``warning`` flags Pareto k above 0.7 (influential rows, e.g. BayesSHAP's anchor
      coalitions with weight 1000): those elpds are unreliable.

    Args:
        explainer_or_bb: a surrogate explainer (BayesLIME, BayesSHAP, CLIME, EAGLE), or a
            black box / model, explained with BayesLIME and ``background``.
        x: one instance (d,).
        priors: ``{name: prior}`` (a :class:`~probex.priors.Prior`, a name, a Pyro or
            NumPyro distribution, ``None`` for the conjugate default) or a list.
        n_samples: black-box queries (once, for all priors).
        target, options: as the explainer's ``explain``.
        inference: ``None``: exact for the conjugate prior, the explainer's runner (or
            one shared NUTSRunner) for the others; or a label / runner for all.
        ic: ``"loo"`` (PSIS-LOO) or ``"waic"``.
        background, seed: for a black box given instead of an explainer.
        prior_predictive: also store each prior's ``prior`` and ``prior_predictive``.

    Returns:
        a :class:`PriorComparison` (``table``, ``explanations``, ``plot()``).
    """
    check_choice("ic", ic, ("loo", "waic"))
    explainer = as_surrogate_explainer(explainer_or_bb, background, seed)
    named = named_priors(priors)
    explanations, n_queries = explain_with_priors(
        explainer, x, named, n_samples, target=target, inference=inference,
        prior_predictive=prior_predictive, **options)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        # ArviZ 0.23 sorts its table in place, which pandas 3 deprecates: not ours to fix
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")
        table = az.compare({name: e.idata for name, e in explanations.items()}, ic=ic)
    return PriorComparison(table=table, explanations=explanations, n_queries=n_queries,
                           ic=ic)
