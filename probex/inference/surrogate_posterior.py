"""The posterior of the Bayesian linear surrogate, by any inference path.

Shared by every surrogate method (BayesLIME, BayesSHAP, EAGLE, C-LIME): it wires the
Pyro model of :mod:`probex.models.surrogate` (or its collapsed form,
:mod:`probex.models.collapsed_surrogate`), a prior from :mod:`probex.priors` and an
inference choice (``"exact"`` or a runner) together, for B instances at once.

Randomness: exact posteriors are sampled per instance from that instance's own seed
(``seeds``, one per instance), so an instance's draws do not depend on the batch it was
explained in; runners (SVI, NUTS) sample the batch jointly from one seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from probex._threads import single_intra_op_thread
from probex.inference.diagnostics import Verdict, diagnose, warn
from probex.inference.draws import PosteriorDraws
from probex.inference.exact import NormalInverseGammaPosterior
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
from probex.prior_base import Prior
from probex.prior_families import NormalInverseGamma

__all__ = ["SurrogateFit", "CentredSummary", "conjugate_posterior", "fit_surrogate",
           "exact_draws"]


def conjugate_posterior(data: CenteredData, prior: Prior) -> NormalInverseGammaPosterior:
    """Closed-form posterior of the centred surrogate under a NIG prior (or the default
    NIG when ``prior`` is not conjugate: used for design decisions and initial values)."""
    nig = prior if isinstance(prior, NormalInverseGamma) else NormalInverseGamma()
    start = NormalInverseGammaPosterior.prior(
        data.n_features, scale=nig.scale, shape=nig.noise_shape, rate=nig.noise_rate,
        batch_shape=(data.n_instances,), dtype=data.design.dtype, device=data.design.device)
    return start.update(data.design, data.response, data.weights, n_marginalized=1)


class SurrogateFit:
    """A summary of the centred data, the closed form when the posterior is exact, and
    draws.

    Draws of an exact posterior are made only when first asked for (``draws``): the
    closed form answers every number, and draws serve plots and ArviZ.
    """

    def __init__(self, data: CentredSummary, closed_form: NormalInverseGammaPosterior | None,
                 draws: PosteriorDraws | None = None, make_draws=None,
                 marginalized: bool = False, verdict: Verdict | None = None,
                 seeds=None, draw_shape: tuple[int, int] | None = None):
        if (draws is None) == (make_draws is None):
            raise ValueError("give either draws or a function that makes them")
        if draws is None and draw_shape is None:
            raise ValueError("deferred draws need their draw_shape (n_chains, n_draws)")
        self.data = data
        # (B,) per-instance seeds: of the exact draws, and of replicated answers
        self.seeds = None if seeds is None else np.asarray(seeds).reshape(-1)
        self._draw_shape = None if draw_shape is None else tuple(int(s) for s in draw_shape)
        self.verdict = verdict  # sampler diagnostics (None for exact posteriors)
        self.closed_form = closed_form
        self.marginalized = bool(marginalized)  # coefficients integrated out by the sampler
        self._draws = draws
        self._make_draws = make_draws

    @property
    def inference(self) -> str:
        return "exact" if self.closed_form is not None else self.draws.method

    @property
    def draw_shape(self) -> tuple[int, int]:
        """(n_chains, n_draws) of the draws, known before deferred draws are made."""
        if self._draws is not None:
            return self._draws.n_chains, self._draws.n_draws
        return self._draw_shape

    @property
    def draws(self) -> PosteriorDraws:
        if self._draws is None:
            self._draws = self._make_draws()
            self._make_draws = None
        return self._draws


def _instance(posterior: NormalInverseGammaPosterior, i: int) -> NormalInverseGammaPosterior:
    return NormalInverseGammaPosterior(mean=posterior.mean[i:i + 1],
                                       precision=posterior.precision[i:i + 1],
                                       shape=posterior.shape[i:i + 1],
                                       rate=posterior.rate[i:i + 1])


def exact_draws(data: CentredSummary, conjugate: NormalInverseGammaPosterior, seeds,
                n_draws: int, n_chains: int) -> PosteriorDraws:
    """iid draws of (phi, sigma, intercept) from the conjugate posterior, instance i from
    seed ``seeds[i]``: arrays (n_chains, n_draws, B, ...)."""
    with single_intra_op_thread():
        return _exact_draws(data, conjugate, seeds, n_draws, n_chains)


def _exact_draws(data: CentredSummary, conjugate: NormalInverseGammaPosterior, seeds,
                 n_draws: int, n_chains: int) -> PosteriorDraws:
    parts: dict[str, list] = {"attribution": [], "noise_scale": [], "intercept": []}
    for i, seed in enumerate(np.asarray(seeds).reshape(-1)):
        one = _instance(conjugate, i)
        noise_scale, attribution = one.sample(n_chains * n_draws, seed=int(seed) % 2**63)
        generator = torch.Generator().manual_seed((int(seed) + 1) % 2**63)
        intercept = _intercept(data, i, attribution, noise_scale, generator)
        parts["attribution"].append(attribution[:, 0])
        parts["noise_scale"].append(noise_scale[:, 0])
        parts["intercept"].append(intercept)
    posterior = {name: torch.stack(values, dim=1).reshape(n_chains, n_draws, len(values),
                                                          *values[0].shape[1:])
                 .cpu().numpy() for name, values in parts.items()}
    return PosteriorDraws(posterior, "exact")


def _intercept(data: CentredSummary, i: int, attribution: torch.Tensor,
               noise_scale: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Intercept draws of instance i given (draws, 1, d) coefficients, (draws,)."""
    return sample_intercept(data.instance(i), attribution, noise_scale, generator)[:, 0]


@dataclass(frozen=True)
class CentredSummary:
    """What a fit keeps of its data after the posterior is computed: the weighted means
    and weight sums (B, ...) the intercept's draws need, not the (B, n, d) design, so a
    kept explanation costs O(B d) memory, not O(B n d)."""

    z_mean: torch.Tensor
    y_mean: torch.Tensor
    weight_sum: torch.Tensor
    n_observations: int

    @classmethod
    def of(cls, data: CenteredData) -> CentredSummary:
        return cls(data.z_mean, data.y_mean, data.weight_sum, data.n_observations)

    @property
    def n_instances(self) -> int:
        return self.z_mean.shape[0]

    @property
    def n_features(self) -> int:
        return self.z_mean.shape[-1]

    def instance(self, i: int) -> CentredSummary:
        return CentredSummary(self.z_mean[i:i + 1], self.y_mean[i:i + 1],
                              self.weight_sum[i:i + 1], self.n_observations)


def fit_surrogate(z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, prior: Prior,
                  inference, seeds, n_draws: int = 1000, n_chains: int = 4,
                  marginalize: bool = True, seed: int = 0) -> SurrogateFit:
    """Posterior of the surrogate for B instances (see :func:`_fit_surrogate`); its small
    linear algebra runs on one intra-op thread (:mod:`probex._threads`)."""
    with single_intra_op_thread():
        return _fit_surrogate(z, y, weights, prior, inference, seeds, n_draws, n_chains,
                              marginalize, seed)


def _fit_surrogate(z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, prior: Prior,
                   inference, seeds, n_draws: int = 1000, n_chains: int = 4,
                   marginalize: bool = True, seed: int = 0) -> SurrogateFit:
    """Posterior of the surrogate for B instances: z (B, n, d), y and weights (B, n).

    Args:
        inference: ``"exact"`` or a runner (:func:`probex.inference.runners.resolve_runner`),
            run with ``seed``.
        seeds: (B,) per-instance seeds for the draws of an exact posterior (sampled iid,
            ``n_chains`` x ``n_draws``, on first use) and of the intercept.
        marginalize: with a scale-mixture prior (NIG, horseshoe) and a runner, sample only
            the noise and coefficient scales from the collapsed model and draw the
            coefficients from their exact Gaussian conditional; otherwise sample the
            joint model.
    """
    data = center(z, y, weights)
    conjugate = conjugate_posterior(data, prior)
    seeds = np.asarray(seeds).reshape(-1)
    summary = CentredSummary.of(data)
    if inference == "exact":
        return SurrogateFit(summary, conjugate, make_draws=partial(
            exact_draws, summary, conjugate, seeds, n_draws, n_chains), seeds=seeds,
            draw_shape=(n_chains, n_draws))
    stats = SufficientStatistics.of(data)
    sigma_start = (conjugate.rate / conjugate.shape).sqrt()
    device = data.design.device
    if marginalize and prior.scale_mixture:
        model = partial(collapsed_linear_surrogate, stats, prior)
        draws = inference.run(model, init_values={"noise_scale": sigma_start}, seed=seed)
        scales = torch.as_tensor(draws.posterior["coefficient_scale"], device=device)
        sigma = torch.as_tensor(draws.posterior["noise_scale"], device=device)
        generator = torch.Generator().manual_seed(int(seed) + 2)
        draws.posterior["attribution"] = sample_coefficients_given_scales(
            stats, scales, sigma, generator).cpu().numpy()
        marginalized = True
    else:
        model = partial(bayesian_linear_surrogate, stats, prior)
        draws = inference.run(model, init_values={"attribution": conjugate.mean,
                                                  "noise_scale": sigma_start}, seed=seed)
        marginalized = False
    generator = torch.Generator().manual_seed(int(seed) + 1)
    phi = torch.as_tensor(draws.posterior["attribution"], device=device)
    sigma = torch.as_tensor(draws.posterior["noise_scale"], device=device)
    draws.posterior["intercept"] = sample_intercept(data, phi, sigma, generator).cpu().numpy()
    verdict = diagnose(draws, sites=["attribution", "noise_scale"])
    warn(verdict, "surrogate posterior")
    return SurrogateFit(summary, None, draws=draws, marginalized=marginalized,
                        verdict=verdict, seeds=seeds)
