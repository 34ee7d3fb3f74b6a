"""Fitting the Bayesian linear surrogate with any inference path, and packaging the result.

Shared by every surrogate method (BayesLIME, BayesSHAP, EAGLE, C-LIME): it wires the
Pyro model of :mod:`probex.models.surrogate`, a prior from :mod:`probex.priors` and an
inference choice together, and builds the :class:`~probex.explanation.Explanation`.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
import xarray as xr

from probex import __version__
from probex._checks import check_choice
from probex.blackbox import BlackBox, as_blackbox
from probex.explanation import Explanation
from probex.inference import NormalInverseGammaPosterior, NUTSRunner, SVIRunner
from probex.inference.draws import PosteriorDraws
from probex.inference.idata import netcdf_attrs, to_inference_data
from probex.models.collapsed_surrogate import (
    collapsed_linear_surrogate,
    sample_coefficients_given_scales,
)
from probex.models.surrogate import (
    CenteredData,
    SufficientStatistics,
    bayesian_linear_surrogate,
    center,
    sample_intercept,
)
from probex.perturb import PerturbationSet, make_perturbation
from probex.priors import NormalInverseGamma, Prior, as_prior

__all__ = ["SurrogateExplainer", "SurrogateFit", "resolve_inference", "conjugate_posterior",
           "fit_surrogate", "surrogate_explanation"]

_INFERENCE = ("auto", "exact", "svi", "nuts")


class SurrogateExplainer:
    """The set-up every explainer shares that fits the surrogate to a perturbation scheme
    (BayesLIME, BayesSHAP, EAGLE): black box, prior, scheme, seed and inference path.

    The arguments are documented on those classes; a subclass sets the scheme it uses
    when none is named through ``_default_perturbation`` and ``_default_kernel``.
    """

    _default_kernel = "lime"
    _default_perturbation = "gaussian"

    def __init__(self, bb: BlackBox, background=None, kernel: str | None = None,
                 perturbation=None, prior=None, inference="auto",
                 kernel_width: float | None = None, marginalize: bool = True, seed: int = 0,
                 num_draws: int = 1000, num_chains: int = 4, progress: bool | None = None):
        self.bb = as_blackbox(bb)
        self.prior = as_prior(prior)
        self.perturbation = make_perturbation(
            perturbation or self._default_perturbation, background,
            kernel or self._default_kernel, kernel_width)
        self.bb.bind_features(self.perturbation.n_features)
        self.seed = int(seed)
        self.inference = resolve_inference(inference, self.prior, self.seed, self.bb.device,
                                           progress)
        self.marginalize = bool(marginalize)
        self.num_draws = int(num_draws)
        self.num_chains = int(num_chains)
        self.progress = progress

    @property
    def kernel(self) -> str:
        """The locality kernel of the perturbation scheme (``"lime"``, ``"shap"``, ...)."""
        return self.perturbation.kernel


def resolve_inference(inference, prior: Prior, seed: int, device=None, progress=None):
    """``"exact"`` or a runner object for the requested inference on this prior."""
    if isinstance(inference, (SVIRunner, NUTSRunner)):
        return inference
    if not isinstance(inference, str):
        raise TypeError("inference must be 'auto', 'exact', 'svi', 'nuts' or a runner object")
    check_choice("inference", inference, _INFERENCE)
    if inference == "auto":
        inference = "exact" if prior.conjugate else "nuts"
    if inference == "exact":
        if not prior.conjugate:
            raise ValueError(
                f"inference='exact' needs the conjugate NormalInverseGamma prior, not "
                f"{prior!r}; use inference='nuts' or 'svi'"
            )
        return "exact"
    if inference == "svi":
        return SVIRunner(seed=seed, device=device, progress=progress)
    return NUTSRunner(seed=seed, device=device, progress=progress)


def conjugate_posterior(data: CenteredData, prior: Prior) -> NormalInverseGammaPosterior:
    """Closed-form posterior of the centred surrogate under a NIG prior (or the default
    NIG when ``prior`` is not conjugate: used for design decisions and initial values)."""
    nig = prior if isinstance(prior, NormalInverseGamma) else NormalInverseGamma()
    start = NormalInverseGammaPosterior.prior(
        data.n_features, scale=nig.scale, shape=nig.noise_shape, rate=nig.noise_rate,
        batch_shape=(data.n_instances,), dtype=data.design.dtype, device=data.design.device)
    return start.update(data.design, data.response, data.weights, n_marginalized=1)


class SurrogateFit:
    """The centred data, the closed form when the posterior is exact, and draws.

    Draws of an exact posterior are made only when first asked for (``draws``): the
    closed form answers every number, and draws serve plots and ArviZ.
    """

    def __init__(self, data: CenteredData, closed_form: NormalInverseGammaPosterior | None,
                 draws: PosteriorDraws | None = None, make_draws=None,
                 marginalized: bool = False):
        if (draws is None) == (make_draws is None):
            raise ValueError("give either draws or a function that makes them")
        self.data = data
        self.closed_form = closed_form
        self.marginalized = bool(marginalized)  # coefficients integrated out by the sampler
        self._draws = draws
        self._make_draws = make_draws

    @property
    def draws(self) -> PosteriorDraws:
        if self._draws is None:
            self._draws = self._make_draws()
            self._make_draws = None
        return self._draws


def _exact_draws(data: CenteredData, conjugate: NormalInverseGammaPosterior, seed: int,
                 num_draws: int, num_chains: int) -> PosteriorDraws:
    """iid draws of (phi, sigma) from the conjugate posterior, and the intercept."""
    noise_scale, attribution = conjugate.sample(num_chains * num_draws, seed=seed)
    shape = (num_chains, num_draws)
    posterior = {
        "attribution": attribution.reshape(*shape, *attribution.shape[1:]),
        "noise_scale": noise_scale.reshape(*shape, *noise_scale.shape[1:]),
    }
    draws = PosteriorDraws({k: v.cpu().numpy() for k, v in posterior.items()}, "exact")
    _add_intercept(draws, data, seed)
    return draws


def _add_intercept(draws: PosteriorDraws, data: CenteredData, seed: int) -> None:
    generator = torch.Generator().manual_seed(int(seed) + 1)
    phi = torch.as_tensor(draws.posterior["attribution"], device=data.design.device)
    sigma = torch.as_tensor(draws.posterior["noise_scale"], device=data.design.device)
    draws.posterior["intercept"] = sample_intercept(data, phi, sigma, generator).cpu().numpy()


def fit_surrogate(z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, prior: Prior,
                  inference, seed: int, num_draws: int = 1000, num_chains: int = 4,
                  marginalize: bool = True) -> SurrogateFit:
    """Posterior of the surrogate for B instances: z (B, n, d), y and weights (B, n).

    ``inference`` is ``"exact"`` or a runner from :func:`resolve_inference`. Exact
    posteriors are sampled independently (``num_chains`` x ``num_draws``, on first use)
    so that every path yields draws for ArviZ. With ``marginalize`` and a scale-mixture
    prior (NIG, horseshoe), the runner samples only the noise and coefficient scales from
    the collapsed model (:mod:`probex.models.collapsed_surrogate`) and the coefficients
    are drawn from their exact Gaussian conditional; otherwise it samples the joint
    model. Intercept draws are added from its conditional.
    """
    data = center(z, y, weights)
    conjugate = conjugate_posterior(data, prior)
    if inference == "exact":
        return SurrogateFit(data, conjugate, make_draws=partial(
            _exact_draws, data, conjugate, seed, num_draws, num_chains))
    stats = SufficientStatistics.of(data)
    if marginalize and prior.scale_mixture:
        model = partial(collapsed_linear_surrogate, stats, prior)
        draws = inference.run(model, init_values={
            "noise_scale": (conjugate.rate / conjugate.shape).sqrt()})
        device = data.design.device
        scales = torch.as_tensor(draws.posterior["coefficient_scale"], device=device)
        sigma = torch.as_tensor(draws.posterior["noise_scale"], device=device)
        generator = torch.Generator().manual_seed(int(seed) + 2)
        draws.posterior["attribution"] = sample_coefficients_given_scales(
            stats, scales, sigma, generator).cpu().numpy()
        marginalized = True
    else:
        model = partial(bayesian_linear_surrogate, stats, prior)
        init = {"attribution": conjugate.mean,
                "noise_scale": (conjugate.rate / conjugate.shape).sqrt()}
        draws = inference.run(model, init_values=init)
        marginalized = False
    _add_intercept(draws, data, seed)
    return SurrogateFit(data, None, draws=draws, marginalized=marginalized)


def _dims(posterior: dict, n_instances: int, n_features: int) -> dict:
    dims = {}
    for name, value in posterior.items():
        site_shape = value.shape[2:]
        if site_shape == (n_instances,):
            dims[name] = ["instance"]
        elif site_shape == (n_instances, n_features):
            dims[name] = ["instance", "feature"]
        else:
            dims[name] = ["instance"] + [f"{name}_dim_{i}" for i in range(len(site_shape) - 1)]
    return dims


def surrogate_explanation(fit: SurrogateFit, perturbations: PerturbationSet, y: torch.Tensor,
                          x: torch.Tensor, prediction: torch.Tensor, feature_names: list[str],
                          attrs: dict, single: bool, trace: dict | None = None) -> Explanation:
    """Package a surrogate fit as an Explanation (InferenceData built by from_dict).

    ``perturbations`` / ``y`` / ``x`` / ``prediction`` carry a leading instance axis (B);
    with ``single=True`` (B = 1) that axis is dropped everywhere.
    """
    n_instances = fit.data.n_instances
    feature_names = list(feature_names)
    meta = netcdf_attrs({"inference": "exact" if fit.closed_form is not None
                         else fit.draws.method, "probex_version": __version__,
                         "n_instances": n_instances, **attrs})
    trace_data = None if trace is None else xr.Dataset(
        {k: ("round", np.asarray(v)) for k, v in trace.items()},
        coords={"round": np.arange(len(next(iter(trace.values()))))})
    closed = None if fit.closed_form is None else _closed_form_dataset(
        fit.closed_form, feature_names, n_instances)

    def build():
        idata = _inference_data(fit, perturbations, y, x, prediction, feature_names, meta)
        if closed is not None:
            idata.add_groups({"closed_form": closed})
        if trace_data is not None:
            idata.add_groups({"design_trace": trace_data})
        return idata.isel(instance=0) if single else idata

    if closed is None:
        return Explanation(build())
    view = closed.isel(instance=0) if single else closed
    return Explanation.deferred(view, meta, build, trace_data)


def _closed_form_dataset(cf: NormalInverseGammaPosterior, feature_names: list[str],
                         n_instances: int) -> xr.Dataset:
    """Student-t marginals of a normal-inverse-gamma posterior, over (instance, feature)."""
    feature_dims = ("instance", "feature")
    return xr.Dataset(
        {"loc": (feature_dims, cf.mean.cpu().numpy()),
         "scale": (feature_dims, cf.marginal_scale.cpu().numpy()),
         "sd": (feature_dims, cf.marginal_sd.cpu().numpy()),
         "df": (("instance",), cf.df.cpu().numpy()),
         "noise_variance_mean": (("instance",), cf.noise_variance_mean.cpu().numpy())},
        coords={"feature": feature_names, "instance": np.arange(n_instances)},
        attrs={"distribution": "multivariate Student-t marginal of a normal-inverse-gamma"},
    )


def _inference_data(fit: SurrogateFit, perturbations: PerturbationSet, y: torch.Tensor,
                    x: torch.Tensor, prediction: torch.Tensor, feature_names: list[str],
                    meta: dict):
    """Posterior draws, sampler statistics, observed and constant data, via az.from_dict."""
    draws = fit.draws
    n_instances, n_features = fit.data.n_instances, fit.data.n_features
    dims = _dims(draws.posterior, n_instances, n_features)
    dims.update({"response": ["instance", "perturbation"],
                 "z": ["instance", "perturbation", "feature"],
                 "weights": ["instance", "perturbation"], "levels": ["instance", "perturbation"],
                 "x": ["instance", "feature"], "prediction": ["instance"]})
    coords = {"feature": feature_names, "instance": np.arange(n_instances),
              "perturbation": np.arange(perturbations.z.shape[-2])}
    return to_inference_data(
        draws,
        observed_data={"response": y.cpu().numpy()},
        constant_data={"z": perturbations.z.cpu().numpy(),
                       "weights": perturbations.weights.cpu().numpy(),
                       "levels": perturbations.levels.cpu().numpy(),
                       "x": x.cpu().numpy(), "prediction": prediction.cpu().numpy()},
        coords=coords, dims=dims, attrs=meta,
    )
