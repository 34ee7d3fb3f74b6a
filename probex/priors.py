"""Prior families for the coefficients (attributions) and noise of linear surrogates.

A prior is called inside a Pyro model, within a plate over instances (batch shape
(B,)). It samples the noise scale ``sigma`` (site ``"noise_scale"``) and the d
coefficients, and must expose the coefficients as a site named ``"attribution"`` of
shape (..., B, d): a sample site, or a deterministic one for non-centred
parametrisations (horseshoe).

Units: coefficients are in output units per unit of the interpretable feature ``z``;
``sigma`` is the noise standard deviation of a row with locality weight 1.

The interface and its distribution helpers live in :mod:`probex.prior_base`, the built-in
families in :mod:`probex.prior_families`; this module adds the priors made of a user's own
Pyro or NumPyro distributions and :func:`as_prior`, which turns what a user passes as
``prior=`` into a :class:`Prior`. Every prior is imported from here.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist

from probex.prior_base import (
    Prior,
    cast_distribution,
    inverse_gamma_noise,
    is_numpyro_distribution,
)
from probex.prior_families import Horseshoe, Laplace, Normal, NormalInverseGamma, StudentT

__all__ = [
    "Prior",
    "NormalInverseGamma",
    "Laplace",
    "Horseshoe",
    "StudentT",
    "Normal",
    "CustomPrior",
    "NumPyroPrior",
    "as_prior",
    "is_numpyro_distribution",
    "inverse_gamma_noise",
    "cast_distribution",
]


class CustomPrior(Prior):
    """Any Pyro distribution for the coefficients (and optionally for sigma).

    ``coefficients`` may be univariate (applied independently to each of the d
    coefficients) or have event shape (d,).
    """

    name = "custom"

    def __init__(self, coefficients: dist.Distribution, noise: dist.Distribution | None = None):
        if not isinstance(coefficients, dist.Distribution):
            raise TypeError("coefficients must be a pyro.distributions.Distribution")
        if noise is not None and not isinstance(noise, dist.Distribution):
            raise TypeError("noise must be a pyro.distributions.Distribution or None")
        super().__init__(noise)
        self.coefficients = coefficients

    def sample_coefficients(self, n_features, noise_scale):
        d = cast_distribution(self.coefficients, noise_scale)
        if d.event_shape == ():
            d = d.expand(noise_scale.shape + (n_features,)).to_event(1)
        elif d.event_shape != (n_features,):
            raise ValueError(
                f"the coefficient prior has event shape {tuple(d.event_shape)}, expected "
                f"() or ({n_features},)"
            )
        else:
            d = d.expand(noise_scale.shape)
        return pyro.sample("attribution", d)

    def __repr__(self):
        return f"CustomPrior({self.coefficients!r})"


class NumPyroPrior(Prior):
    """A NumPyro distribution for the coefficients (and optionally for sigma): sampled by
    the NumPyro backend only (``NUTSRunner(backend="auto" | "numpyro")``).

    ``coefficients`` may be univariate (applied independently to each coefficient) or
    have event shape (d,); ``noise``, if given, is the distribution of sigma.
    """

    name = "numpyro"

    def __init__(self, coefficients, noise=None):
        if not is_numpyro_distribution(coefficients):
            raise TypeError("coefficients must be a numpyro.distributions.Distribution")
        if noise is not None and not is_numpyro_distribution(noise):
            raise TypeError("noise must be a numpyro.distributions.Distribution or None")
        super().__init__(noise)
        self.coefficients = coefficients

    def noise_distribution(self, like):
        raise TypeError(f"{self!r} holds NumPyro distributions, which only the NumPyro "
                        "backend samples: use NUTSRunner(backend='numpyro')")

    sample_coefficients = noise_distribution

    def __repr__(self):
        return f"NumPyroPrior({self.coefficients!r})"


def as_prior(prior) -> Prior:
    """``None`` -> the conjugate default; a Pyro distribution -> :class:`CustomPrior`; a
    NumPyro distribution -> :class:`NumPyroPrior`."""
    if prior is None:
        return NormalInverseGamma()
    if isinstance(prior, Prior):
        return prior
    if isinstance(prior, dist.Distribution):
        return CustomPrior(prior)
    if is_numpyro_distribution(prior):
        return NumPyroPrior(prior)
    if isinstance(prior, str):
        named = {"nig": NormalInverseGamma, "normal_inverse_gamma": NormalInverseGamma,
                 "laplace": Laplace, "horseshoe": Horseshoe, "student_t": StudentT,
                 "normal": Normal}
        if prior not in named:
            raise ValueError(f"unknown prior={prior!r}; expected one of {sorted(named)}")
        return named[prior]()
    raise TypeError(
        f"prior must be None, a probex.priors.Prior, a Pyro or NumPyro distribution or a "
        f"name; got "
        f"{type(prior).__name__}"
    )
