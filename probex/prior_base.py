"""The interface every prior implements, and the distribution helpers priors share.

:class:`Prior` is the base class of every prior (the contract is in :mod:`probex.priors`);
the helpers build the default noise prior (:func:`inverse_gamma_noise`), bring a user's
distribution to the surrogate's dtype and device (:func:`cast_distribution`) and
recognise NumPyro distributions without importing NumPyro
(:func:`is_numpyro_distribution`).
"""

from __future__ import annotations

import pyro.distributions as dist
import torch
from pyro.distributions.transforms import PowerTransform

__all__ = ["Prior", "inverse_gamma_noise", "cast_distribution", "is_numpyro_distribution"]


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


def is_numpyro_distribution(value) -> bool:
    """Whether ``value`` is a NumPyro distribution (checked without importing NumPyro)."""
    return any(cls.__module__.startswith("numpyro.distributions")
               and cls.__name__ == "Distribution" for cls in type(value).__mro__)


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
