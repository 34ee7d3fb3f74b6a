"""BayesLIME and BayesSHAP (Slack et al., "Reliable Post hoc Explanations: Modeling
Uncertainty in Explainability", NeurIPS 2021).

A method object only wires three things together: a perturbation scheme
(:mod:`probex.perturb`), the Bayesian linear surrogate (:mod:`probex.models.surrogate`)
with a prior (:mod:`probex.priors`), and an inference path (:mod:`probex.inference`).
"""

from __future__ import annotations

import numpy as np
import torch

from probex._checks import as_tensor
from probex.explainers._surrogate import (
    SurrogateExplainer,
    conjugate_posterior,
    fit_surrogate,
    surrogate_explanation,
)
from probex.explanation import Explanation
from probex.inference.design import perturbations_to_goal, predictive_variance
from probex.models.surrogate import center
from probex.perturb import PerturbationSet

__all__ = ["BayesLIME", "BayesSHAP"]


class BayesLIME(SurrogateExplainer):
    """Bayesian LIME: a posterior over a local linear surrogate's coefficients.

    Args:
        bb: the :class:`~probex.BlackBox` (or a model, wrapped with default options).
        background: (N, d) reference data: feature scales for Gaussian perturbations, the
            replacement baseline for masks.
        kernel: ``"lime"`` (exponential kernel, width 0.75 sqrt(d)) or ``"shap"``.
        perturbation: ``"gaussian"``, ``"mask"`` or a :class:`~probex.perturb.Perturbation`.
        prior: ``None`` (conjugate normal-inverse-gamma), a :class:`probex.priors.Prior`,
            a prior name (``"laplace"``, ``"horseshoe"``) or any Pyro distribution for the
            coefficients.
        inference: ``"auto"`` (exact if the prior is conjugate, else NUTS), ``"exact"``,
            ``"svi"``, ``"nuts"``, or a configured ``SVIRunner`` / ``NUTSRunner``.
        kernel_width: LIME kernel width (default 0.75 sqrt(d)).
        marginalize: for scale-mixture priors (NIG, horseshoe) under SVI or NUTS, integrate
            the coefficients out analytically, sample only the noise and coefficient scales,
            and draw the coefficients from their exact Gaussian conditional (the same
            posterior, far better conditioned for NUTS). ``False`` samples the joint model.
        seed: seeds perturbations and inference; the same seed gives the same numbers.
        num_draws, num_chains: draws kept from exact posteriors (sampled iid).
        progress: progress bars for NUTS/SVI (``None``: only on a terminal).
    """

    method = "BayesLIME"

    # ------------------------------------------------------------------ public verbs
    def explain(self, x, n_samples: int = 1000, *, target_width: float | None = None,
                max_samples: int = 10_000, focused: bool = False,
                initial_samples: int | None = None, batch_size: int | None = None,
                pool_size: int = 10_000, prob: float = 0.95) -> Explanation:
        """Explain one instance x (d,), or several (B, d) in one vectorized inference.

        Args:
            x: the instance(s).
            n_samples: perturbations (= black-box queries) per instance.
            target_width: if given, keep sampling (in rounds sized by the
                perturbations-to-goal estimate) until every ``prob`` interval is narrower
                than this, or ``max_samples`` queries are spent.
            max_samples: query budget when ``target_width`` is given.
            focused: BayesLIME's focused sampling: after ``initial_samples`` random
                perturbations, each round draws ``batch_size`` of ``pool_size`` candidates
                with probability proportional to the surrogate's predictive variance.
            prob: interval probability for ``target_width``.

        Returns:
            an :class:`~probex.Explanation`; for B instances its arrays are (B, d).
        """
        x = as_tensor(x, "x")
        single = x.ndim == 1
        adaptive = focused or target_width is not None
        if adaptive and not single:
            raise ValueError("focused sampling and target_width work on one instance at a time")
        if n_samples < 2:
            raise ValueError(f"n_samples must be at least 2, got {n_samples}")
        generator = torch.Generator().manual_seed(self.seed)
        queries_before = self.bb.n_queries
        instances = x.unsqueeze(0) if single else x
        trace = None
        if adaptive:
            perturbations, y, trace = self._adaptive_design(
                instances, generator, n_samples, target_width, max_samples, focused,
                initial_samples, batch_size, pool_size, prob)
        else:
            perturbations = self.perturbation.sample(instances, n_samples, generator)
            y = self._query(perturbations)
        fit = fit_surrogate(perturbations.z.to(y.device), y, perturbations.weights.to(y.device),
                            self.prior, self.inference, self.seed, self.num_draws,
                            self.num_chains, self.marginalize)
        attrs = {"method": self.method, "kernel": self.kernel,
                 "marginalized": fit.marginalized,
                 "perturbation": type(self.perturbation).__name__, "prior": repr(self.prior),
                 "seed": self.seed, "target": -1 if self.bb.target is None else self.bb.target,
                 "n_queries": self.bb.n_queries - queries_before}
        return surrogate_explanation(fit, perturbations, y, instances, y[:, 0],
                                     self.bb.feature_names, attrs, single, trace)

    def perturbations_to_goal(self, x, target_width: float, n_initial: int = 200,
                              prob: float = 0.95) -> int:
        """Estimated total perturbations for every ``prob`` interval of x's explanation to
        be narrower than ``target_width`` (spends ``n_initial`` queries to estimate it)."""
        x = as_tensor(x, "x")
        if x.ndim != 1:
            raise ValueError("perturbations_to_goal takes one instance of shape (d,)")
        generator = torch.Generator().manual_seed(self.seed)
        perturbations = self.perturbation.sample(x.unsqueeze(0), n_initial, generator)
        y = self._query(perturbations)
        return self._goal(perturbations, y, target_width, prob)

    # ------------------------------------------------------------------ internals
    def _query(self, perturbations: PerturbationSet) -> torch.Tensor:
        """Black-box answers for (B, n, d) perturbations, shape (B, n)."""
        inputs = perturbations.inputs
        flat = inputs.reshape(-1, inputs.shape[-1])
        y = self.bb(flat, level=perturbations.levels.reshape(-1))
        return y.reshape(inputs.shape[:-1])

    def _goal(self, perturbations, y, target_width, prob) -> int:
        data = center(perturbations.z, y, perturbations.weights.to(y.device))
        posterior = conjugate_posterior(data, self.prior)
        return perturbations_to_goal(
            posterior.covariance_unit[0], data.n_observations,
            float(posterior.rate[0] / posterior.shape[0]), target_width, prob,
            df=float(posterior.df[0]))

    def _adaptive_design(self, instances, generator, n_samples, target_width, max_samples,
                         focused, initial_samples, batch_size, pool_size, prob):
        """Rounds of random or focused perturbations until the width goal or the budget."""
        budget = max_samples if target_width is not None else n_samples
        n_first = min(initial_samples or (100 if focused else 200), budget)
        perturbations = self.perturbation.sample(instances, n_first, generator)
        y = self._query(perturbations)
        trace = {"n_queries": [], "max_width": [], "goal": []}
        while True:
            data = center(perturbations.z, y, perturbations.weights.to(y.device))
            posterior = conjugate_posterior(data, self.prior)
            interval = posterior.interval(prob)[0]
            width = float(np.max(interval[:, 1] - interval[:, 0]))
            goal = (self._goal(perturbations, y, target_width, prob)
                    if target_width is not None else n_samples)
            n_now = len(perturbations)
            trace["n_queries"].append(n_now)
            trace["max_width"].append(width)
            trace["goal"].append(goal)
            if (target_width is not None and width <= target_width) or n_now >= budget:
                break
            step = batch_size or max(50, (goal - n_now) if target_width is not None
                                     else n_samples // 10)
            step = int(min(max(step, 1), budget - n_now))
            if focused:
                batch = self._focused_batch(instances, posterior, data, step, pool_size,
                                            generator)
            else:
                batch = self.perturbation.sample(instances, step, generator,
                                                 include_anchors=False)
            perturbations = PerturbationSet.concat([perturbations, batch])
            y = torch.cat([y, self._query(batch)], dim=-1)
        return perturbations, y, trace

    def _focused_batch(self, instances, posterior, data, size, pool_size, generator):
        """BayesLIME focused sampling: candidates drawn in proportion to the predictive
        variance z^T Sigma z of the current surrogate (Slack et al., 2021, Sec. 4.2)."""
        pool = self.perturbation.sample_z(max(pool_size, size), generator, (1,))[0]
        covariance = posterior.covariance_unit[0] * (posterior.rate[0] / posterior.shape[0])
        centred = pool.to(covariance.device) - data.z_mean[0]
        variance = predictive_variance(covariance, centred).clamp_min(1e-300).cpu()
        chosen = torch.multinomial(variance / variance.sum(), size, replacement=False,
                                   generator=generator)
        return self.perturbation.complete(instances, pool[chosen].unsqueeze(0))


class BayesSHAP(BayesLIME):
    """BayesSHAP: the same Bayesian surrogate with the Shapley kernel on binary masks
    (KernelSHAP's sampling; see :class:`probex.perturb.MaskPerturbation`)."""

    method = "BayesSHAP"
    _default_kernel = "shap"
    _default_perturbation = "mask"
