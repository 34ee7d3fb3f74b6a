"""One instance explained under several priors, all fitted to the same perturbations.

The black box is queried once, with the explainer's own design (its perturbation scheme,
kernel, budget and, for adaptive designs, the rounds the first prior's design rule
chose); every prior is then fitted to those perturbations and answers. Differences
between the explanations are therefore the priors' doing, not the sampling's, and
comparing them costs the queries of one explanation.
"""

from __future__ import annotations

import copy
from functools import partial

import torch

from probex.blackbox import BlackBox
from probex.explainers._base import as_instances
from probex.explainers._surrogate import SurrogateExplainer
from probex.explainers.bayeslime import BayesLIME
from probex.explanation import Explanation
from probex.inference.nuts import NUTSRunner
from probex.inference.runners import RUNNER_TYPES, resolve_runner
from probex.prior_base import Prior
from probex.priors import as_prior

__all__ = ["explain_with_priors", "named_priors", "as_surrogate_explainer"]


def named_priors(priors, scales=None) -> dict[str, Prior]:
    """``{name: prior}`` from a dict, a list (named by their repr) or, with ``scales``, a
    factory ``priors(scale) -> prior`` evaluated at each scale (named by the scale)."""
    if scales is not None:
        if not callable(priors) or isinstance(priors, (Prior, dict, list, tuple)):
            raise TypeError("with scales=, priors must be a function scale -> prior, e.g. "
                            "priors=lambda s: px.priors.Laplace(scale=s)")
        scales = [float(s) for s in scales]
        if len(scales) < 2 or any(s <= 0 for s in scales):
            raise ValueError("scales must be at least two positive numbers")
        return {f"{s:g}": as_prior(priors(s)) for s in scales}
    if isinstance(priors, dict):
        named = {str(name): as_prior(prior) for name, prior in priors.items()}
    elif isinstance(priors, (list, tuple)):
        named = {}
        for prior in priors:
            prior = as_prior(prior)
            name, k = repr(prior), 2
            while name in named:
                name, k = f"{repr(prior)} #{k}", k + 1
            named[name] = prior
    else:
        raise TypeError("priors must be a dict {name: prior}, a list of priors, or a "
                        "function of the scale together with scales=")
    if len(named) < 2:
        raise ValueError(f"give at least two priors to compare; got {len(named)}")
    return named


def as_surrogate_explainer(explainer_or_bb, background=None, seed: int = 0
                           ) -> SurrogateExplainer:
    """The explainer given (BayesLIME, BayesSHAP, C-LIME, EAGLE), or BayesLIME on a black
    box or model with ``background``."""
    if isinstance(explainer_or_bb, SurrogateExplainer):
        return explainer_or_bb
    if hasattr(explainer_or_bb, "explain"):
        raise TypeError(f"{type(explainer_or_bb).__name__} has no prior to compare: give "
                        "BayesLIME, BayesSHAP, CLIME, EAGLE or a black box")
    if background is None and not isinstance(explainer_or_bb, BlackBox):
        raise ValueError("explaining a model needs background= data (or give an explainer)")
    return BayesLIME(explainer_or_bb, background=background, seed=seed)


def _with_prior(explainer: SurrogateExplainer, prior: Prior, inference, shared: dict,
                prior_predictive: bool) -> SurrogateExplainer:
    """A private copy of ``explainer`` with ``prior`` and the inference it gets (see
    :func:`explain_with_priors`), storing its data and model-checking groups."""
    clone = copy.copy(explainer)
    clone.prior = prior
    if inference is not None:
        clone.inference = resolve_runner(inference, choices=("auto", "exact", "svi", "nuts"),
                                         conjugate=prior.conjugate,
                                         device=explainer.bb.device,
                                         progress=explainer.progress)
    elif prior.conjugate:
        clone.inference = "exact"
    elif isinstance(explainer.inference, RUNNER_TYPES):
        clone.inference = explainer.inference
    else:  # one sampler for every prior: compiled NumPyro samplers are reused
        if "runner" not in shared:
            shared["runner"] = NUTSRunner(device=explainer.bb.device,
                                          progress=explainer.progress)
        clone.inference = shared["runner"]
    clone.keep_data, clone.predictive = True, True
    clone.prior_predictive = bool(prior_predictive)
    # the Bayesian surrogate's path, also for BayesSHAP (whose default is design-based)
    clone._explain = partial(SurrogateExplainer._explain, clone)
    return clone


def explain_with_priors(explainer: SurrogateExplainer, x, priors: dict[str, Prior],
                        n_samples: int | None = None, *, target=None, inference=None,
                        prior_predictive: bool = False, **options
                        ) -> tuple[dict[str, Explanation], int]:
    """Explain one instance ``x`` (d,) under each prior of ``priors``, all fitted to the
    same perturbations and answers; returns the explanations and the queries spent.

    Args:
        explainer: a surrogate explainer; its design, seed, kernel and draws are used.
        n_samples, target, options: as the explainer's ``explain``.
        inference: ``None``: exact for the conjugate prior, else the explainer's runner if
            it has one, else one ``NUTSRunner`` shared by the priors; or a label / runner
            for every prior.
        prior_predictive: also store each prior's ``prior`` and ``prior_predictive``.

    Every explanation keeps its data and has ``log_likelihood`` and
    ``posterior_predictive`` groups (for ``az.compare``); BayesSHAP is fitted as its
    Bayesian surrogate on KernelSHAP-sampled masks (its design-based estimator has no
    likelihood), so its explanations' ``uncertainty`` is ``"posterior"``.
    """
    X, single = as_instances(explainer.bb, x)
    if not single:
        raise ValueError("compare priors on one instance x of shape (d,); for a batch, "
                         "loop over its rows")
    shared, captured = {}, {}
    names = list(priors)
    first = _with_prior(explainer, priors[names[0]], inference, shared, prior_predictive)
    fit_first = first._explain_data

    def capture(data, X, streams, keep_data):
        captured.update(data=data, X=X, streams=streams)
        return fit_first(data, X, streams, True)

    first._explain_data = capture
    explanations = {names[0]: _posterior(first.explain(x, n_samples, target=target,
                                                       **options))}
    n_queries = explanations[names[0]].n_queries
    targets = torch.as_tensor([int(explanations[names[0]].attrs["target"])])
    for name in names[1:]:
        clone = _with_prior(explainer, priors[name], inference, shared, prior_predictive)
        fitted = clone._explain_data(captured["data"], captured["X"], captured["streams"],
                                     True)
        explanations[name] = _posterior(clone._package(fitted, n_queries=n_queries,
                                                       targets=targets, single=True))
    return explanations, n_queries


def _posterior(explanation: Explanation) -> Explanation:
    return explanation.with_attrs(uncertainty="posterior")
