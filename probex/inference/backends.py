"""Which backend samples which model, and the function-level entry points of the surrogate
fit and of ReCalX.

Three Pyro models have a NumPyro twin (:mod:`probex.models.numpyro_surrogate`,
:mod:`probex.models.numpyro_calibration`): ``bayesian_linear_surrogate`` and
``collapsed_linear_surrogate`` with a built-in prior (normal-inverse-gamma, Laplace,
horseshoe, Student-t, normal) or a NumPyro distribution, and ``temperature_model`` with
the default random-walk prior or a NumPyro distribution. :func:`numpyro_program`
recognises them (as ``functools.partial`` objects or with the arguments passed to
``run``) and returns the twin; anything else (a user's Pyro distribution or Prior
subclass, a Pyro model of one's own) gets ``None`` and runs on Pyro.

:func:`sample_surrogate` and :func:`sample_temperatures` are what the explainers call:
they build the model, start it, run any runner (``NUTSRunner`` with either backend,
``SVIRunner``, ``MAPRunner``) with the caller's seed and return
:class:`~probex.inference.draws.PosteriorDraws`. Only the NumPyro branch imports jax.
"""

from __future__ import annotations

import inspect
from functools import partial

import torch

from probex.inference.draws import PosteriorDraws
from probex.models.calibration import temperature_model
from probex.models.collapsed_surrogate import (
    collapsed_linear_surrogate,
    sample_coefficients_given_scales,
)
from probex.models.surrogate import SufficientStatistics, bayesian_linear_surrogate
from probex.prior_base import Prior
from probex.prior_families import NormalInverseGamma
from probex.priors import as_prior

__all__ = ["numpyro_program", "sample_surrogate", "sample_temperatures", "conjugate_start"]

_TWINNED = (bayesian_linear_surrogate, collapsed_linear_surrogate, temperature_model)


def numpyro_program(model, args: tuple = (), kwargs: dict | None = None):
    """The NumPyro twin (a ``NumPyroProgram``) of ``model(*args, **kwargs)``, or ``None``
    when the model, or its prior, has none (see the module docstring)."""
    func, args, kwargs = model, tuple(args), dict(kwargs or {})
    if isinstance(model, partial):
        func, args, kwargs = model.func, model.args + args, {**model.keywords, **kwargs}
    if func not in _TWINNED:
        return None
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except TypeError:
        return None  # let Pyro report the bad call
    bound.apply_defaults()
    arguments = bound.arguments
    if func is temperature_model:
        from probex.models.numpyro_calibration import temperature_program

        return temperature_program(**arguments)
    if not isinstance(arguments["stats"], SufficientStatistics) or not isinstance(
            arguments["prior"], Prior):
        return None
    from probex.models.numpyro_surrogate import surrogate_program

    return surrogate_program(arguments["stats"], arguments["prior"],
                             collapsed=func is collapsed_linear_surrogate)


def conjugate_start(stats: SufficientStatistics, prior: Prior | None = None
                    ) -> dict[str, torch.Tensor]:
    """A start for samplers: the posterior mean of the coefficients, (B, d), and
    sqrt(b_n / a_n) for sigma, (B,), under ``prior`` if it is a NormalInverseGamma, else
    under the default one. From the sufficient statistics: Lambda = G + I / scale^2,
    m = Lambda^{-1} h, a_n = a0 + (n - 1) / 2, b_n = b0 + (q - m^T h) / 2."""
    nig = prior if isinstance(prior, NormalInverseGamma) else NormalInverseGamma()
    eye = torch.eye(stats.n_features, dtype=stats.gram.dtype, device=stats.gram.device)
    precision = stats.gram + eye / nig.scale**2
    mean = torch.linalg.solve(precision, stats.cross.unsqueeze(-1)).squeeze(-1)
    shape = nig.noise_shape + 0.5 * (stats.n_observations - 1)
    rate = nig.noise_rate + 0.5 * (stats.sum_squares - (mean * stats.cross).sum(-1))
    return {"attribution": mean, "noise_scale": (rate.clamp_min(1e-300) / shape).sqrt()}


def sample_surrogate(stats: SufficientStatistics, prior, runner, *, seed: int | None = None,
                     init_values: dict | None = None, marginalize: bool = True
                     ) -> PosteriorDraws:
    """Posterior draws of the surrogate of B instances from its sufficient statistics.

    Args:
        stats: ``SufficientStatistics.of(center(z, y, weights))``.
        prior: a :class:`~probex.priors.Prior` or anything :func:`~probex.priors.as_prior`
            takes (a NumPyro distribution runs on NumPyro).
        runner: ``NUTSRunner`` (its ``backend`` picks Pyro or NumPyro), ``SVIRunner`` or
            ``MAPRunner``.
        seed: overrides the runner's seed; the coefficients of a collapsed run are drawn
            with ``torch.Generator().manual_seed(seed + 2)``.
        init_values: constrained starts, (B, ...) per site; default
            :func:`conjugate_start`.
        marginalize: for scale-mixture priors, sample the collapsed model and draw the
            coefficients from their exact Gaussian conditional.

    Returns:
        draws with ``attribution`` (chain, draw, B, d), ``noise_scale`` (chain, draw, B)
        and the prior's sites; ``info["marginalized"]`` says whether the coefficients
        were integrated out by the sampler.
    """
    if not isinstance(stats, SufficientStatistics):
        raise TypeError("stats must be SufficientStatistics.of(center(z, y, weights))")
    prior = as_prior(prior)
    collapsed = bool(marginalize and prior.scale_mixture)
    model = partial(collapsed_linear_surrogate if collapsed else bayesian_linear_surrogate,
                    stats, prior)
    if init_values is None:
        init_values = conjugate_start(stats, prior)
    seed = int(runner.seed if seed is None else seed)
    draws = runner.run(model, seed=seed, init_values=init_values)
    if collapsed:
        device = stats.gram.device
        scales = torch.as_tensor(draws.posterior["coefficient_scale"], device=device)
        sigma = torch.as_tensor(draws.posterior["noise_scale"], device=device)
        generator = torch.Generator().manual_seed(seed + 2)
        draws.posterior["attribution"] = sample_coefficients_given_scales(
            stats, scales.to(stats.gram.dtype), sigma.to(stats.gram.dtype),
            generator).cpu().numpy()
    draws.info["marginalized"] = collapsed
    return draws


def sample_temperatures(log_probs: torch.Tensor, labels: torch.Tensor, bins: torch.Tensor,
                        n_bins: int, prior, runner, *, seed: int | None = None,
                        init_values: dict | None = None) -> PosteriorDraws:
    """Posterior draws of ReCalX's per-bin temperatures (arguments as
    :func:`probex.models.calibration.temperature_model`; ``prior=None`` is the random
    walk and runs on NumPyro by default, a NumPyro distribution too).

    Returns draws of ``log_temperature`` and ``temperature``, (chain, draw, n_bins).
    """
    model = partial(temperature_model, log_probs, labels, bins, int(n_bins), prior)
    seed = int(runner.seed if seed is None else seed)
    return runner.run(model, seed=seed, init_values=init_values)
