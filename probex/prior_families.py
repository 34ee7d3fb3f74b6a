"""The built-in prior families for the coefficients of linear surrogates.

Normal-inverse-gamma (conjugate), Laplace, regularised horseshoe, Student-t and normal
coefficients, each a :class:`~probex.prior_base.Prior`; all are imported from
:mod:`probex.priors`, and :func:`probex.priors.as_prior` knows them by name.
"""

from __future__ import annotations

import pyro
import pyro.distributions as dist

from probex.prior_base import Prior

__all__ = ["NormalInverseGamma", "Laplace", "Horseshoe", "StudentT", "Normal"]


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
