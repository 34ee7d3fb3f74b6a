"""BayesLIME (Slack et al., "Reliable Post hoc Explanations: Modeling Uncertainty in
Explainability", NeurIPS 2021); BayesSHAP builds on it (:mod:`probex.explainers.bayesshap`).

A method object only wires three things together: a perturbation scheme
(:mod:`probex.perturb`), the Bayesian linear surrogate (:mod:`probex.models.surrogate`)
with a prior (:mod:`probex.priors`), and an inference path (:mod:`probex.inference`).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from probex._checks import check_count, check_positive, check_probability
from probex.explainers._base import RowStreams, as_instances
from probex.explainers._surrogate import SurrogateData, SurrogateExplainer
from probex.explanation import Explanation
from probex.inference.design import perturbations_to_goal
from probex.inference.information_gain import predictive_variance
from probex.inference.surrogate_posterior import conjugate_posterior
from probex.models.surrogate import center
from probex.perturb import PerturbationSet

__all__ = ["BayesLIME"]


class BayesLIME(SurrogateExplainer):
    """Bayesian LIME: a posterior over a local linear surrogate's coefficients.

    Arguments as :class:`~probex.explainers._surrogate.SurrogateExplainer`:
    ``BayesLIME(bb, background=X_train, prior=None, inference="auto", seed=0)``.
    """

    method = "BayesLIME"

    def explain(self, x, n_samples: int | None = None, *, target=None,
                target_width: float | None = None, focused: bool = False,
                initial_samples: int | None = None, batch_size: int | None = None,
                pool_size: int = 10_000, prob: float = 0.95, **deprecated) -> Explanation:
        """Explain one instance x (d,), or a batch (B, d) in one vectorized inference.

        Args:
            n_samples: perturbations (= black-box queries) per instance; with
                ``target_width`` or ``focused``, the most spent.
            target: the output explained (see :class:`~probex.explainers.Explainer`).
            target_width: keep sampling, in rounds sized by the perturbations-to-goal
                estimate, until every ``prob`` interval is narrower than this (output
                units) or ``n_samples`` queries are spent.
            focused: BayesLIME's focused sampling: after ``initial_samples`` random
                perturbations, each round draws ``batch_size`` of ``pool_size`` candidates
                with probability proportional to the surrogate's predictive variance.
            prob: interval probability for ``target_width``.

        Returns:
            an :class:`~probex.Explanation`; for B instances its arrays are (B, d). With
            ``target_width`` or ``focused`` its ``trace`` has one row per round.
        """
        if "max_samples" in deprecated:  # the old budget of target_width runs
            warnings.warn("explain(max_samples=) is renamed n_samples (the most queries "
                          "spent); the old name will be removed in the next release",
                          DeprecationWarning, stacklevel=2)
            n_samples = deprecated.pop("max_samples")
        if deprecated:
            raise TypeError(f"explain() got unexpected keyword argument(s) {sorted(deprecated)}")
        options = {"target_width": check_positive("target_width", target_width,
                                                  allow_none=True),
                   "focused": bool(focused), "prob": check_probability("prob", prob),
                   "initial_samples": None if initial_samples is None else check_count(
                       "initial_samples", initial_samples, minimum=2),
                   "batch_size": None if batch_size is None else check_count(
                       "batch_size", batch_size),
                   "pool_size": check_count("pool_size", pool_size)}
        return super().explain(x, n_samples, target=target, **options)

    def _surrogate_data(self, X, targets, n_samples, streams, *, target_width=None,
                        focused=False, initial_samples=None, batch_size=None,
                        pool_size=10_000, prob=0.95) -> SurrogateData:
        trace = None
        if focused or target_width is not None:
            perturbations, y, trace = self._adaptive_design(
                X, targets, streams, n_samples, target_width, focused, initial_samples,
                batch_size, pool_size, prob)
        else:
            perturbations = self._sample(X, n_samples, streams)
            y = self._query(perturbations, targets)
        return SurrogateData(perturbations, y, y[:, 0], trace)

    def _is_vectorized(self, options: dict) -> bool:
        return not (options.get("focused") or options.get("target_width") is not None)

    def perturbations_to_goal(self, x, target_width: float, n_initial: int = 200,
                              prob: float = 0.95, *, target=None) -> int:
        """Estimated total perturbations for every ``prob`` interval of x's explanation to
        be narrower than ``target_width`` (spends ``n_initial`` queries to estimate it)."""
        X, single = as_instances(self.bb, x)
        if not single:
            raise ValueError("perturbations_to_goal takes one instance of shape (d,)")
        streams = RowStreams(self.seed, [0])
        perturbations = self._sample(X, check_count("n_initial", n_initial, minimum=2),
                                     streams)
        y = self._query(perturbations, self._targets(target, X))
        return self._goal(perturbations, y, check_positive("target_width", target_width),
                          check_probability("prob", prob))

    # ------------------------------------------------------------------ internals
    def _goal(self, perturbations, y, target_width, prob) -> int:
        data = center(perturbations.z, y, perturbations.weights.to(y.device))
        posterior = conjugate_posterior(data, self.prior)
        return perturbations_to_goal(
            posterior.covariance_unit[0], data.n_observations,
            float(posterior.rate[0] / posterior.shape[0]), target_width, prob,
            df=float(posterior.df[0]))

    def _adaptive_design(self, X, targets, streams, budget, target_width, focused,
                         initial_samples, batch_size, pool_size, prob):
        """Rounds of random or focused perturbations of one instance until the width goal
        or the budget."""
        generator = streams.generator(0)
        n_first = min(initial_samples or (100 if focused else 200), budget)
        perturbations = self.perturbation.sample(X, n_first, generator)
        y = self._query(perturbations, targets)
        trace = {"n_queries": [], "max_width": [], "goal": []}
        while True:
            data = center(perturbations.z, y, perturbations.weights.to(y.device))
            posterior = conjugate_posterior(data, self.prior)
            interval = posterior.interval(prob)[0]
            width = float(np.max(interval[:, 1] - interval[:, 0]))
            goal = (self._goal(perturbations, y, target_width, prob)
                    if target_width is not None else budget)
            n_now = len(perturbations)
            trace["n_queries"].append(n_now)
            trace["max_width"].append(width)
            trace["goal"].append(goal)
            if (target_width is not None and width <= target_width) or n_now >= budget:
                break
            step = batch_size or max(50, (goal - n_now) if target_width is not None
                                     else budget // 10)
            step = int(min(max(step, 1), budget - n_now))
            if focused:
                batch = self._focused_batch(X, posterior, data, step, pool_size, generator)
            else:
                batch = self.perturbation.sample(X, step, generator, include_anchors=False)
            perturbations = PerturbationSet.concat([perturbations, batch])
            y = torch.cat([y, self._query(batch, targets)], dim=-1)
        return perturbations, y, trace

    def _focused_batch(self, X, posterior, data, size, pool_size, generator):
        """BayesLIME focused sampling: candidates drawn in proportion to the predictive
        variance z^T Sigma z of the current surrogate (Slack et al., 2021, Sec. 4.2)."""
        pool = self.perturbation.sample_z(max(pool_size, size), generator, (1,))[0]
        covariance = posterior.covariance_unit[0] * (posterior.rate[0] / posterior.shape[0])
        centred = pool.to(covariance.device) - data.z_mean[0]
        variance = predictive_variance(covariance, centred).clamp_min(1e-300).cpu()
        chosen = torch.multinomial(variance / variance.sum(), size, replacement=False,
                                   generator=generator)
        return self.perturbation.complete(X, pool[chosen].unsqueeze(0))
