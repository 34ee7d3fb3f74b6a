"""What every surrogate method shares (BayesLIME, BayesSHAP, EAGLE, C-LIME): the set-up
(black box, background, perturbation scheme, prior, inference path), the shared steps
(sample, query, fit) and the hand-over of a fit to its packaging as an
:class:`~probex.Explanation` (:mod:`probex.explainers._surrogate_explanation`).

The posterior itself is computed in :mod:`probex.inference.surrogate_posterior`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from probex._checks import check_count
from probex._deprecation import renamed_arguments
from probex.diagnostics import DataWarning
from probex.explainers._base import LocalExplainer, RowStreams, as_background, warn_unmaskable
from probex.explainers._surrogate_explanation import (  # re-exported: part of __all__
    check_finite_posterior,
    surrogate_explanation,
)
from probex.explanation import Explanation
from probex.inference.runners import resolve_runner
from probex.inference.surrogate_posterior import SurrogateFit, fit_surrogate
from probex.perturb import (
    GaussianPerturbation,
    Perturbation,
    PerturbationSet,
    make_perturbation,
)
from probex.priors import as_prior

__all__ = ["SurrogateExplainer", "SurrogateData", "surrogate_explanation",
           "check_finite_posterior"]

_INFERENCE = ("auto", "exact", "svi", "nuts")


@dataclass(frozen=True)
class SurrogateData:
    """What a surrogate is fitted to: perturbations (B, n, d) and answers y (B, n) of B
    instances, each instance's prediction (B,), an adaptive design's per-round trace
    (or None) and metadata of the design."""

    perturbations: PerturbationSet
    y: torch.Tensor
    prediction: torch.Tensor
    trace: dict | None = None
    attrs: dict = field(default_factory=dict)


class SurrogateExplainer(LocalExplainer):
    """A Bayesian linear surrogate fitted to a perturbation scheme's queries.

    Args:
        model: the :class:`~probex.BlackBox` (or a model, wrapped with default options).
        background: (N, d) reference data (numpy, torch or a DataFrame): feature scales
            for Gaussian perturbations, the replacement baseline for masks.
        kernel: ``"lime"`` (exponential kernel, width 0.75 sqrt(d)) or ``"shap"``.
        perturbation: ``"gaussian"``, ``"mask"`` or a :class:`~probex.perturb.Perturbation`.
        prior: ``None`` (conjugate normal-inverse-gamma), a :class:`probex.priors.Prior`,
            a prior name (``"laplace"``, ``"horseshoe"``) or any Pyro distribution for the
            coefficients.
        inference: ``"auto"`` (exact if the prior is conjugate, else NUTS), ``"exact"``,
            ``"svi"``, ``"nuts"``, or a configured ``SVIRunner`` / ``NUTSRunner`` (run
            with this explainer's seed).
        kernel_width: LIME kernel width (default 0.75 sqrt(d)).
        marginalize: for scale-mixture priors (NIG, horseshoe) under SVI or NUTS, integrate
            the coefficients out analytically, sample only the noise and coefficient scales,
            and draw the coefficients from their exact Gaussian conditional (the same
            posterior, far better conditioned for NUTS). ``False`` samples the joint model.
        n_samples: perturbations (= black-box queries) per instance by default.
        n_draws, n_chains: draws kept from exact posteriors (sampled iid).
        keep_data: store the perturbations and black-box answers in the explanation
            (:class:`~probex.explainers.LocalExplainer`; default: while under 32 MB).
        predictive: add the groups ``log_likelihood`` (pointwise: one value per draw and
            perturbation, log N(y_i | b + phi^T z_i, sigma^2 / w_i)) and
            ``posterior_predictive`` (replicated answers at the perturbations) to the
            explanation's InferenceData, for ``az.loo``, ``az.waic``, ``az.compare`` and
            ``az.plot_ppc``. They need the perturbations, so only explanations that keep
            their data have them. ``None`` (default): while each group is under 32 MB
            (chains x draws x instances x perturbations <= 2^22 values; a single
            instance with the defaults is), ``True``: always (and the data are kept),
            ``False``: never. Exact posteriors build them, from the iid draws of the
            closed form, only when the InferenceData is first used.
        prior_predictive: also add the groups ``prior`` (draws of the prior, as many as
            the posterior's) and ``prior_predictive`` (the answers they predict at the
            same perturbations, centred at the answers' weighted mean since the
            intercept's prior is flat; see :mod:`probex.inference.predictive`). Costs no
            queries; keeps the data.
        seed, device, progress, blackbox_options: see :class:`~probex.explainers.Explainer`.
    """

    uncertainty = "posterior"
    _default_kernel = "lime"
    _default_perturbation = "gaussian"

    @renamed_arguments(num_draws="n_draws", num_chains="n_chains")
    def __init__(self, model, background=None, *, kernel: str | None = None,
                 perturbation=None, prior=None, inference="auto",
                 kernel_width: float | None = None, marginalize: bool = True,
                 n_samples: int = 1000, n_draws: int = 1000, n_chains: int = 4,
                 keep_data: bool | None = None, predictive: bool | None = None,
                 prior_predictive: bool = False, seed: int = 0, device=None,
                 progress: bool | None = None, blackbox_options: dict | None = None):
        self.predictive = None if predictive is None else bool(predictive)
        self.prior_predictive = bool(prior_predictive)
        if keep_data is False and (self.predictive or self.prior_predictive):
            raise ValueError("predictive=True and prior_predictive=True need the "
                             "perturbations: they contradict keep_data=False")
        if self.predictive or self.prior_predictive:
            keep_data = True
        super().__init__(model, n_samples=n_samples, keep_data=keep_data, seed=seed,
                         device=device, progress=progress, blackbox_options=blackbox_options)
        self.prior = as_prior(prior)
        background = as_background(self.bb, background)
        self.perturbation = self._make_perturbation(perturbation, background, kernel,
                                                    kernel_width)
        if isinstance(self.perturbation, GaussianPerturbation) and background is not None:
            _warn_zero_spread(background, self.bb)
        if self.perturbation is not None:
            self.bb.bind_features(self.perturbation.n_features)
        self.inference = resolve_runner(inference, choices=_INFERENCE,
                                        conjugate=self.prior.conjugate,
                                        device=self.bb.device, progress=progress)
        self.marginalize = bool(marginalize)
        self.n_draws = check_count("n_draws", n_draws)
        self.n_chains = check_count("n_chains", n_chains)

    def _make_perturbation(self, perturbation, background, kernel, kernel_width
                           ) -> Perturbation:
        return make_perturbation(perturbation or self._default_perturbation, background,
                                 kernel or self._default_kernel, kernel_width)

    @property
    def kernel(self) -> str:
        """The locality kernel of the perturbation scheme (``"lime"``, ``"shap"``, ...)."""
        return "none" if self.perturbation is None else self.perturbation.kernel

    def _check_instances(self, X: torch.Tensor) -> None:
        baseline = getattr(self.perturbation, "baseline", None)
        if baseline is not None:
            warn_unmaskable(X, baseline, self.bb.feature_names)

    def _bytes_per_instance(self, n_samples: int, n_features: int, options: dict) -> int:
        """Perturbations, candidate pools (when the design draws them) and draws kept."""
        pool = int(options.get("pool_size") or 0) if self._uses_pool(options) else 0
        draws = self.n_draws * self.n_chains * (n_features + 2)
        return 8 * (10 * n_samples * n_features + 4 * pool * n_features + draws)

    def _size_description(self, n_samples: int, n_features: int, options: dict) -> str:
        pool = f", pool_size={options.get('pool_size')}" if self._uses_pool(options) else ""
        return (f"n_samples={n_samples}{pool}, n_draws={self.n_draws} x n_chains="
                f"{self.n_chains}, {n_features} features")

    def _uses_pool(self, options: dict) -> bool:
        """Whether the design scores a pool of ``pool_size`` candidates (focused)."""
        return bool(options.get("focused"))

    # ------------------------------------------------------------------ shared steps
    def _sample(self, X: torch.Tensor, n: int, streams: RowStreams,
                include_anchors: bool = True) -> PerturbationSet:
        """n perturbations of each instance of X (B, d), instance i from its own stream."""
        return self.perturbation.sample_rows(X, n, streams.generators(), include_anchors)

    def _query(self, perturbations: PerturbationSet, targets: torch.Tensor) -> torch.Tensor:
        """Black-box answers (B, n) for (B, n, d) perturbations, instance i's target
        ``targets[i]``."""
        inputs = perturbations.inputs
        n = inputs.shape[-2]
        flat = inputs.reshape(-1, inputs.shape[-1])
        y = self.bb(flat, level=perturbations.levels.reshape(-1),
                    target=targets.repeat_interleave(n))
        return y.reshape(inputs.shape[:-1])

    def _fit(self, perturbations: PerturbationSet, y: torch.Tensor,
             streams: RowStreams) -> SurrogateFit:
        return fit_surrogate(perturbations.z.to(y.device), y, perturbations.weights.to(y.device),
                             self.prior, self.inference, streams.seeds, self.n_draws,
                             self.n_chains, self.marginalize, seed=self.seed)

    def _explain(self, X, targets, n_samples, streams, *, keep_data=None, **options
                 ) -> Explanation:
        data = self._surrogate_data(X, targets, n_samples, streams, **options)
        return self._explain_data(data, X, streams, keep_data)

    def _surrogate_data(self, X: torch.Tensor, targets: torch.Tensor, n_samples: int,
                        streams: RowStreams, **options) -> SurrogateData:
        """The perturbations of instances X (B, d) and the black box's answers that the
        surrogate is fitted to (the method's design; its queries)."""
        raise NotImplementedError

    def _explain_data(self, data: SurrogateData, X: torch.Tensor, streams: RowStreams,
                      keep_data: bool | None) -> Explanation:
        """This explainer's posterior (its prior and inference) on ``data``, packaged.
        Fitting several priors to the same ``data`` isolates what the prior does
        (:func:`probex.workflow.compare_priors`)."""
        fit = self._fit(data.perturbations, data.y, streams)
        return surrogate_explanation(fit, data.perturbations, data.y, X, data.prediction,
                                     self.bb.feature_names, {**self._attrs(fit), **data.attrs},
                                     data.trace, keep_data, **self._predictive_options())

    def _predictive_options(self) -> dict:
        """What :func:`surrogate_explanation` adds to the InferenceData."""
        return {"predictive": self.predictive,
                "prior": self.prior if self.prior_predictive else None}

    def _attrs(self, fit: SurrogateFit) -> dict:
        return {"kernel": self.kernel, "marginalized": fit.marginalized,
                "perturbation": type(self.perturbation).__name__, "prior": repr(self.prior),
                **({} if fit.verdict is None else fit.verdict.attrs())}


def _warn_zero_spread(background, bb) -> None:
    """A DataWarning naming the features that do not vary in the background (Gaussian
    perturbations then use a scale of 1 in their units, as lime does)."""
    values = np.asarray(background, dtype=float)
    constant = np.flatnonzero(values.std(0) == 0) if values.ndim == 2 else []
    if len(constant):
        names = bb.feature_names if bb.n_features == values.shape[1] else None
        listed = [names[j] if names else f"x{j}" for j in constant]
        warnings.warn(f"{len(listed)} feature(s) do not vary in the background "
                      f"({', '.join(map(repr, listed[:8]))}{' ...' if len(listed) > 8 else ''})"
                      ": they are perturbed with a scale of 1 in their own units, which may "
                      "not be local", DataWarning, stacklevel=4)
