"""Prior families for the coefficients (attributions) and noise of linear surrogates.

A prior is called inside a Pyro model, within a plate over instances (batch shape
(B,)). It samples the noise scale ``sigma`` (site ``"noise_scale"``) and the d
coefficients, and must expose the coefficients as a site named ``"attribution"`` of
shape (..., B, d): a sample site, or a deterministic one for non-centred
parametrisations (horseshoe).

Units: coefficients are in output units per unit of the interpretable feature ``z``;
``sigma`` is the noise standard deviation of a row with locality weight 1.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist
import torch
from pyro.distributions.transforms import PowerTransform

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


def inverse_gamma_noise(shape: float, rate: float, like: torch.Tensor) -> dist.Distribution:
    """Distribution of sigma when sigma^2 ~ InverseGamma(shape, rate)."""
    variance = dist.InverseGamma(like.new_tensor(shape), like.new_tensor(rate))
    return dist.TransformedDistribution(variance, [PowerTransform(like.new_tensor(0.5))])


def cast_distribution(distribution: dist.Distribution, like: torch.Tensor) -> dist.Distribution:
    """Rebuild a user's distribution with the dtype and device of ``like``.

    Users often write ``dist.Laplace(0.0, 0.1)`` (float32 on the CPU) while the surrogate
    runs in float64, possibly on a GPU. Distributions whose parameters are listed in
    ``arg_constraints`` (and ``Independent`` / ``expand`` wrappers of them) are rebuilt;
    others must already match.
    """
    if isinstance(distribution, dist.Independent):
        base = cast_distribution(distribution.base_dist, like)
        return base.to_event(distribution.reinterpreted_batch_ndims)
    if isinstance(distribution, dist.ExpandedDistribution):
        return cast_distribution(distribution.base_dist, like).expand(distribution.batch_shape)
    params = {}
    for name in distribution.arg_constraints:
        if name in ("probs", "logits") and name not in vars(distribution):
            continue  # lazily derived twin of the parameter actually given
        params[name] = getattr(distribution, name)
    tensors = [v for v in params.values() if isinstance(v, torch.Tensor)]
    if all(v.dtype == like.dtype and v.device == like.device for v in tensors):
        return distribution
    try:
        params = {k: v.to(dtype=like.dtype, device=like.device) if isinstance(v, torch.Tensor)
                  else v for k, v in params.items()}
        return type(distribution)(**params, validate_args=distribution._validate_args)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"cannot convert {type(distribution).__name__} to {like.dtype} on {like.device}; "
            f"build it from tensors of that dtype and device"
        ) from err


class Prior:
    """Base class. ``conjugate`` priors have a closed-form posterior (see inference.exact).

    A prior that is a scale mixture of normals (``scale_mixture = True``: phi_j | s_j ~
    N(0, s_j^2) given latent scales s) also implements :meth:`sample_coefficient_scales`;
    the surrogate can then integrate the coefficients out analytically and sample only the
    scales (see :mod:`probex.models.collapsed_surrogate`).
    """

    conjugate = False
    scale_mixture = False
    name = "prior"
    noise_shape = 1.0
    noise_rate = 1e-3

    def __init__(self, noise: dist.Distribution | None = None):
        self.noise = noise

    def noise_distribution(self, like: torch.Tensor) -> dist.Distribution:
        """Prior of the noise scale sigma (default: sigma^2 ~ InverseGamma(1, 1e-3))."""
        if self.noise is not None:
            return cast_distribution(self.noise, like)
        return inverse_gamma_noise(self.noise_shape, self.noise_rate, like)

    def sample_coefficients(self, n_features: int, noise_scale: torch.Tensor) -> torch.Tensor:
        """Sample the coefficients, (..., B, d), registering site ``"attribution"``."""
        raise NotImplementedError

    def sample_coefficient_scales(self, n_features: int, noise_scale: torch.Tensor
                                  ) -> torch.Tensor:
        """For scale mixtures: sample the latent scales and return the conditional prior
        standard deviation s_j of each coefficient, (..., B, d)."""
        raise NotImplementedError(f"{type(self).__name__} is not a scale mixture of normals")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NormalInverseGamma(Prior):
    """Conjugate prior: sigma^2 ~ InvGamma(a0, b0), phi | sigma^2 ~ N(0, sigma^2 scale^2 I).

    With ``scale=1`` the posterior mean is the ridge (alpha = 1) solution of the weighted
    least-squares problem, as in LIME and BayesLIME (Slack et al., 2021, Sec. 3).

    Args:
        scale: prior standard deviation of each coefficient in units of sigma.
        noise_shape, noise_rate: a0 and b0 of the inverse-gamma prior on sigma^2.
    """

    conjugate = True
    scale_mixture = True
    name = "normal_inverse_gamma"

    def __init__(self, scale: float = 1.0, noise_shape: float = 1.0, noise_rate: float = 1e-3):
        super().__init__(noise=None)
        if scale <= 0 or noise_shape <= 0 or noise_rate <= 0:
            raise ValueError("scale, noise_shape and noise_rate must be positive")
        self.scale = float(scale)
        self.noise_shape = float(noise_shape)
        self.noise_rate = float(noise_rate)

    def sample_coefficients(self, n_features, noise_scale):
        loc = noise_scale.new_zeros(())
        scale = self.sample_coefficient_scales(n_features, noise_scale)
        return pyro.sample("attribution", dist.Normal(loc, scale).to_event(1))

    def sample_coefficient_scales(self, n_features, noise_scale):
        return (noise_scale * self.scale).unsqueeze(-1).expand(*noise_scale.shape, n_features)

    def __repr__(self):
        return (f"NormalInverseGamma(scale={self.scale}, noise_shape={self.noise_shape}, "
                f"noise_rate={self.noise_rate})")


class Laplace(Prior):
    """Independent Laplace(0, scale) coefficients (the Bayesian lasso's sparsity)."""

    name = "laplace"

    def __init__(self, scale: float = 0.1, noise: dist.Distribution | None = None):
        super().__init__(noise)
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = float(scale)

    def sample_coefficients(self, n_features, noise_scale):
        base = dist.Laplace(noise_scale.new_zeros(()), noise_scale.new_tensor(self.scale))
        return pyro.sample("attribution",
                           base.expand(noise_scale.shape + (n_features,)).to_event(1))

    def __repr__(self):
        return f"Laplace(scale={self.scale})"


class Horseshoe(Prior):
    """Regularised horseshoe (Piironen & Vehtari, 2017), non-centred for NUTS.

    tau ~ HalfCauchy(global_scale); lambda_j ~ HalfCauchy(1);
    c^2 ~ InvGamma(slab_df / 2, slab_df slab_scale^2 / 2);
    lambda~_j^2 = c^2 lambda_j^2 / (c^2 + tau^2 lambda_j^2);
    phi_j = tau lambda~_j eps_j with eps_j ~ N(0, 1) (site ``"attribution_raw"``).
    ``slab_scale=None`` gives the original horseshoe (no slab).
    """

    scale_mixture = True
    name = "horseshoe"

    def __init__(self, global_scale: float = 0.1, slab_scale: float | None = 1.0,
                 slab_df: float = 4.0, noise: dist.Distribution | None = None):
        super().__init__(noise)
        if global_scale <= 0 or (slab_scale is not None and slab_scale <= 0) or slab_df <= 0:
            raise ValueError("global_scale, slab_scale and slab_df must be positive")
        self.global_scale = float(global_scale)
        self.slab_scale = None if slab_scale is None else float(slab_scale)
        self.slab_df = float(slab_df)

    def sample_coefficient_scales(self, n_features, noise_scale):
        """tau * lambda~_j, (..., B, d), registering ``global_scale`` (..., B),
        ``local_scale`` (..., B, d) and, with a slab, ``slab_variance`` (..., B)."""
        one = noise_scale.new_ones(())
        batch = noise_scale.shape
        tau = pyro.sample("global_scale", dist.HalfCauchy(one * self.global_scale))
        lam = pyro.sample("local_scale",
                          dist.HalfCauchy(one).expand(batch + (n_features,)).to_event(1))
        lam2 = lam.pow(2)
        tau2 = tau.pow(2).unsqueeze(-1)
        if self.slab_scale is not None:
            c2 = pyro.sample("slab_variance", dist.InverseGamma(
                one * self.slab_df / 2, one * self.slab_df * self.slab_scale**2 / 2))
            c2 = c2.unsqueeze(-1)
            lam2 = c2 * lam2 / (c2 + tau2 * lam2)
        return (tau2 * lam2).sqrt()

    def sample_coefficients(self, n_features, noise_scale):
        scales = self.sample_coefficient_scales(n_features, noise_scale)
        one = noise_scale.new_ones(())
        raw = pyro.sample("attribution_raw", dist.Normal(0 * one, one).expand(
            noise_scale.shape + (n_features,)).to_event(1))
        return pyro.deterministic("attribution", raw * scales, event_dim=1)

    def __repr__(self):
        return (f"Horseshoe(global_scale={self.global_scale}, slab_scale={self.slab_scale}, "
                f"slab_df={self.slab_df})")


class StudentT(Prior):
    """Independent Student-t coefficients, phi_j ~ t_df(0, scale): tails heavier than a
    normal's and lighter than the horseshoe's.

    A scale mixture of normals: s_j^2 ~ InvGamma(df / 2, df scale^2 / 2) (site
    ``"coefficient_variance"``, (..., B, d)) and phi_j | s_j ~ N(0, s_j^2), so the
    surrogate can integrate the coefficients out.
    """

    scale_mixture = True
    name = "student_t"

    def __init__(self, df: float = 3.0, scale: float = 0.1,
                 noise: dist.Distribution | None = None):
        super().__init__(noise)
        if df <= 0 or scale <= 0:
            raise ValueError("df and scale must be positive")
        self.df = float(df)
        self.scale = float(scale)

    def sample_coefficient_scales(self, n_features, noise_scale):
        one = noise_scale.new_ones(())
        mixing = dist.InverseGamma(one * self.df / 2, one * self.df * self.scale**2 / 2)
        variance = pyro.sample("coefficient_variance",
                               mixing.expand(noise_scale.shape + (n_features,)).to_event(1))
        return variance.sqrt()

    def sample_coefficients(self, n_features, noise_scale):
        zero = noise_scale.new_zeros(())
        base = dist.StudentT(zero + self.df, zero, zero + self.scale)
        return pyro.sample("attribution",
                           base.expand(noise_scale.shape + (n_features,)).to_event(1))

    def __repr__(self):
        return f"StudentT(df={self.df}, scale={self.scale})"


class Normal(Prior):
    """Independent N(0, scale^2) coefficients with ``scale`` in output units, whatever the
    noise (unlike :class:`NormalInverseGamma`, whose scale is in units of sigma): not
    conjugate, but a (degenerate) scale mixture, so the coefficients integrate out."""

    scale_mixture = True
    name = "normal"

    def __init__(self, scale: float = 1.0, noise: dist.Distribution | None = None):
        super().__init__(noise)
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = float(scale)

    def sample_coefficient_scales(self, n_features, noise_scale):
        return noise_scale.new_full(noise_scale.shape + (n_features,), self.scale)

    def sample_coefficients(self, n_features, noise_scale):
        base = dist.Normal(noise_scale.new_zeros(()), noise_scale.new_tensor(self.scale))
        return pyro.sample("attribution",
                           base.expand(noise_scale.shape + (n_features,)).to_event(1))

    def __repr__(self):
        return f"Normal(scale={self.scale})"


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


def is_numpyro_distribution(value) -> bool:
    """Whether ``value`` is a NumPyro distribution (checked without importing NumPyro)."""
    return any(cls.__module__.startswith("numpyro.distributions")
               and cls.__name__ == "Distribution" for cls in type(value).__mro__)


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
