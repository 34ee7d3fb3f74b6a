"""The Gaussian-smoothed gradient phi(x) = E_p[grad f(x + z)], p = N(0, sigma^2 I), with an
honest Monte Carlo error: the estimand of SmoothGrad (from gradients) and of C-LIME
(from function values; Agarwal et al., ICML 2021, Thm. 1).

Two unbiased estimators, each a mean of per-draw terms handed to
:func:`probex.inference.monte_carlo.monte_carlo_mean`:

    gradients:        phi = E_p[grad f(x + z)]                   (SmoothGrad's Eq. 1)
    function values:  phi = E_p[z (f(x + z) - c)] / sigma^2      (Stein's identity)

for any constant c (here c = f(x)). For a probability output both are drawn from the
importance-sampling proposal of :mod:`probex.inference.tilted_gaussian`, tilted along a
linear model of the logit, which turns the heavy-tailed terms of a saturated classifier
into light-tailed ones (terms w(z) times the above, w = p / q bounded by 1 / alpha):

- :func:`smoothgrad_estimate`: the model comes from the gradient at x (one query, which
  also gives f(x)); ``n_stages`` stages, each refitting the model (importance-weighted
  mean of the logit gradients grad f / (f (1 - f))) from the previous stage's draws.
- :func:`stein_gradient_estimate`: the model comes from forward differences of the
  logit at step sigma along k = min(d, n / 3) orthonormal directions (the coordinate
  axes when k = d); those k pilot queries do not enter the estimate.

Where no model can be built (a regression output, a probability that rounds to 0 or 1
at x, too few samples), draws come from p itself in antithetic pairs (z, -z), and the
tail diagnostic of :class:`~probex.inference.monte_carlo.MonteCarloMean` says whether
the error can be trusted. ``sampler`` records which was used.

Function arguments: ``gradient_fn(X) -> (values (m,), gradients (m, d))`` and
``value_fn(X) -> values (m,)`` take float64 inputs (m, d) in input units (e.g.
:meth:`probex.BlackBox.gradient` and :class:`probex.BlackBox` itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from probex.inference.monte_carlo import MonteCarloMean, monte_carlo_mean
from probex.inference.tilted_gaussian import LogitModel, TiltedGaussian, probability_logit

__all__ = ["SmoothedGradient", "smoothgrad_estimate", "stein_gradient_estimate"]

_OUTPUTS = ("probability", "value")
_MIN_UNITS_PER_STAGE = 30  # units per adaptive stage at least (one stage below 60)


@dataclass(frozen=True)
class SmoothedGradient:
    """An estimate of phi(x) with the draws behind it.

    Attributes:
        estimate: mean (d,), se (d,), df, Pareto k (d,) of the terms.
        z: perturbations queried for the estimate (n, d), input units.
        values: f(x + z), (n,).
        weights: importance weights p / q of the rows, (n,) (ones under plain sampling).
        gradients: grad f(x + z) (n, d), or ``None`` for the function-value estimator.
        prediction: f(x).
        sampler: ``"tilted"`` or ``"gaussian"`` (plain antithetic draws from p).
        n_queries: every model query spent, anchor and pilot included.
    """

    estimate: MonteCarloMean
    z: torch.Tensor
    values: torch.Tensor
    weights: torch.Tensor
    gradients: torch.Tensor | None
    prediction: float
    sampler: str
    n_queries: int

    @property
    def mean(self) -> np.ndarray:
        return self.estimate.mean

    @property
    def se(self) -> np.ndarray:
        return self.estimate.se


def _check(x, n_samples, sigma, output) -> tuple[torch.Tensor, int, float]:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be one instance of shape (d,), got {tuple(x.shape)}")
    if isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 4:
        raise ValueError(f"n_samples must be an integer >= 4, got {n_samples!r}")
    if not float(sigma) > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
    return x, int(n_samples), float(sigma)


def _plain_draws(n_units: int, d: int, sigma: float, generator: torch.Generator):
    half = sigma * torch.randn(n_units, d, generator=generator, dtype=torch.float64)
    return torch.cat([half, -half])


def smoothgrad_estimate(gradient_fn, x, n_samples: int, sigma: float,
                        generator: torch.Generator, *, output: str = "probability",
                        defensive: float = 0.2, n_stages: int = 2) -> SmoothedGradient:
    """SmoothGrad phi(x) from ``n_samples`` gradients (plus one at x), importance-sampled
    along the logit when ``output="probability"`` (module docstring).

    Draws are antithetic pairs, so an odd ``n_samples`` spends one query less.
    """
    x, n, sigma = _check(x, n_samples, sigma, output)
    value0, gradient0 = gradient_fn(x.unsqueeze(0))
    prediction = float(value0.reshape(-1)[0])
    model = LogitModel.from_gradient(prediction, gradient0.reshape(-1).cpu().numpy())
    n_units = n // 2
    if output == "value" or not model.usable or n_units < 4:
        z = _plain_draws(n_units, x.numel(), sigma, generator)
        values, gradients = gradient_fn(x + z)
        gradients = gradients.cpu()
        terms = 0.5 * (gradients[:n_units] + gradients[n_units:])
        return SmoothedGradient(monte_carlo_mean(terms.numpy()), z, values.cpu(),
                                torch.ones(2 * n_units, dtype=torch.float64), gradients,
                                prediction, "gaussian", 2 * n_units + 1)
    def query(z):
        values, gradients = gradient_fn(x + z)
        return values.cpu(), gradients.cpu()

    return _staged(model, n_units, n_stages, sigma, defensive, generator, query,
                   lambda draws, answer: draws.weights.unsqueeze(-1) * answer[1],
                   _refit_from_gradients, prediction, 1)


def _staged(model, n_units, n_stages, sigma, defensive, generator, query, row_terms, refit,
            prediction, queries_before, integrand="gradient") -> SmoothedGradient:
    """Adaptive importance sampling in stages of fixed sizes: each stage draws from the
    tilted proposal of the current (model, shift), answers ``query(z)``, turns them into
    unbiased terms and refits; the terms of all stages form strata of one mean."""
    stages = max(1, min(int(n_stages), n_units // _MIN_UNITS_PER_STAGE))
    sizes = [n_units // stages + (i < n_units % stages) for i in range(stages)]
    zs, answers, weights, terms, strata, shift = [], [], [], [], [], None
    for stage, size in enumerate(sizes):
        draws = TiltedGaussian(model, sigma, defensive, shift, integrand).sample(size,
                                                                                generator)
        answer = query(draws.z)
        terms.append(draws.unit_terms(row_terms(draws, answer)))
        strata.append(draws.strata + 2 * stage)
        zs.append(draws.z)
        answers.append(answer)
        weights.append(draws.weights)
        if stage + 1 < stages:
            model, shift = refit(model, shift, draws.z, answer, draws.weights)
    z = torch.cat(zs)
    values = torch.cat([a[0] if isinstance(a, tuple) else a for a in answers])
    gradients = (torch.cat([a[1] for a in answers]) if isinstance(answers[0], tuple)
                 else None)
    estimate = monte_carlo_mean(torch.cat(terms).numpy(), np.concatenate(strata))
    return SmoothedGradient(estimate, z, values, torch.cat(weights), gradients, prediction,
                            "tilted", queries_before + z.shape[0])


def _mass_weights(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows strictly inside (0, 1) and their weights w f (1 - f) ~ p s'(L), normalised."""
    scale = values * (1.0 - values)
    ok = scale > 0
    mass = weights[ok] * scale[ok]
    return ok, mass / mass.sum() if ok.any() else mass


def _refit_from_gradients(model: LogitModel, shift, z, answer, weights):
    """The next stage's model and orthogonal shift, from where the mass of the integrand
    was: rows weighted by w s'(L) (importance weight times the logistic density, i.e.
    p times the gradient's scale) give the mean logit gradient b, the offset
    m = mean(L - b.z) and the mean perturbation, whose part orthogonal to b is the
    shift. Rows whose probability rounds to 0 or 1 are left out; the old model and
    shift are kept if there is nothing left."""
    values, gradients = answer
    v = values.numpy()
    ok, w = _mass_weights(v, weights.numpy())
    if not ok.any():
        return model, shift
    rows = z.numpy()[ok]
    slope = (w[:, None] * gradients.numpy()[ok] / (v[ok] * (1.0 - v[ok]))[:, None]).sum(0)
    offset = float(np.sum(w * (probability_logit(v[ok]) - rows @ slope)))
    refit = LogitModel(offset, slope)
    if not refit.usable:
        return model, shift
    return refit, w @ rows


def _refit_from_values(model: LogitModel, shift, z, values, weights):
    """As :func:`_refit_from_gradients` from function values only: the slope is the
    mass-weighted least-squares slope of the logit on z, ridge-shrunk towards the old
    slope (penalty 0.1 sigma_z^2, sigma_z^2 the mean weighted variance of z)."""
    v = values.numpy()
    ok, w = _mass_weights(v, weights.numpy())
    if ok.sum() < 3:
        return model, shift
    rows, logits = z.numpy()[ok], probability_logit(v[ok])
    centre, level = w @ rows, float(w @ logits)
    centred = rows - centre
    gram = centred.T @ (w[:, None] * centred)
    penalty = 0.1 * float(np.trace(gram)) / rows.shape[1]
    slope = np.linalg.solve(gram + penalty * np.eye(rows.shape[1]),
                            centred.T @ (w * (logits - level)) + penalty * model.slope)
    refit = LogitModel(level - float(centre @ slope), slope)
    if not refit.usable:
        return model, shift
    return refit, centre


def stein_gradient_estimate(value_fn, x, n_samples: int, sigma: float,
                            generator: torch.Generator, *, output: str = "probability",
                            defensive: float = 0.2, n_pilot: int | None = None,
                            n_stages: int = 2) -> SmoothedGradient:
    """phi(x) from ``n_samples`` function values (plus f(x)) by Stein's identity,
    importance-sampled along a forward-difference logit model when
    ``output="probability"`` (module docstring).

    Args:
        n_pilot: forward-difference queries for the model (default min(d, n / 3));
            they are part of ``n_samples``.
    """
    x, n, sigma = _check(x, n_samples, sigma, output)
    d = x.numel()
    prediction = float(value_fn(x.unsqueeze(0)).reshape(-1)[0])
    if n_pilot is None:
        k = min(d, n // 3) if n - min(d, n // 3) >= 8 else 0
    elif isinstance(n_pilot, bool) or int(n_pilot) != n_pilot or not 0 <= n_pilot <= min(d, n - 8):
        raise ValueError(f"n_pilot must be an integer in [0, min(d, n_samples - 8)] = "
                         f"[0, {min(d, n - 8)}], got {n_pilot!r}")
    else:
        k = int(n_pilot)
    if output != "probability" or not 0.0 < prediction < 1.0:
        k = 0                                  # no logit model: no pilot
    model, used = None, 1
    if k:
        directions = (torch.eye(d, dtype=torch.float64) if k == d
                      else torch.linalg.qr(torch.randn(d, k, generator=generator,
                                                       dtype=torch.float64))[0].T)
        steps = value_fn(x + sigma * directions).cpu().numpy()
        model = LogitModel.from_differences(prediction, steps, directions.numpy(), sigma)
        used += k
    n_units = (n - k) // 2
    if model is None or not model.usable:
        z = _plain_draws(n_units, d, sigma, generator)
        values = value_fn(x + z).cpu()
        terms = z[:n_units] * (values[:n_units] - values[n_units:]).unsqueeze(-1)
        terms = terms / (2.0 * sigma**2)
        return SmoothedGradient(monte_carlo_mean(terms.numpy()), z, values,
                                torch.ones(2 * n_units, dtype=torch.float64), None,
                                prediction, "gaussian", used + 2 * n_units)
    def row_terms(draws, values):
        centred = (values - prediction).unsqueeze(-1)
        return draws.weights.unsqueeze(-1) * draws.z * centred / sigma**2

    return _staged(model, n_units, n_stages, sigma, defensive, generator,
                   lambda z: value_fn(x + z).cpu(), row_terms, _refit_from_values,
                   prediction, used, integrand="stein")
