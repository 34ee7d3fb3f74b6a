"""The Bayesian linear surrogate behind BayesLIME, BayesSHAP, EAGLE and C-LIME.

Generative model for B instances, each with n perturbations z_i (d interpretable
features), black-box answers y_i and locality weights pi_i (Slack et al., 2021, Eq. 1):

    sigma        ~ prior on the noise scale
    phi | sigma  ~ prior on the d coefficients (the attributions)
    b            ~ flat (improper) prior on the intercept
    y_i          ~ Normal(b + phi^T z_i, sigma^2 / pi_i)

The intercept is integrated out analytically: with weighted means z_bar, y_bar and
W = sum_i pi_i, the likelihood equals the likelihood of the weighted-centred data
(y_i - y_bar ~ Normal(phi^T (z_i - z_bar), sigma^2 / pi_i)) times (2 pi sigma^2 / W)^(1/2),
which the model adds as a factor. Posterior draws of b are recovered afterwards from
b | phi, sigma, y ~ Normal(y_bar - phi^T z_bar, sigma^2 / W) by :func:`sample_intercept`.
Centring also decorrelates intercept and slopes, which helps NUTS and SVI.

Shapes: ``design`` (B, n, d), ``response`` and ``weights`` (B, n); latent sites have
batch shape (B,) inside the ``"instances"`` plate (dim -1): ``noise_scale`` (B,),
``attribution`` (B, d), so Predictive can add a leading draws dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch

from probex.priors import Prior

__all__ = ["CenteredData", "center", "bayesian_linear_surrogate", "sample_intercept"]


@dataclass(frozen=True)
class CenteredData:
    """Weighted-centred regression data for B instances.

    Attributes:
        design: z - z_bar, (B, n, d).
        response: y - y_bar, (B, n).
        weights: locality weights pi, (B, n), all positive.
        z_mean: weighted mean z_bar, (B, d).
        y_mean: weighted mean y_bar, (B,).
        weight_sum: W = sum_i pi_i, (B,).
    """

    design: torch.Tensor
    response: torch.Tensor
    weights: torch.Tensor
    z_mean: torch.Tensor
    y_mean: torch.Tensor
    weight_sum: torch.Tensor

    @property
    def n_instances(self) -> int:
        return self.design.shape[0]

    @property
    def n_features(self) -> int:
        return self.design.shape[-1]

    @property
    def n_observations(self) -> int:
        return self.design.shape[-2]


def center(z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> CenteredData:
    """Weighted-centre a design. Accepts (n, d) / (n,) or batched (B, n, d) / (B, n)."""
    if z.ndim == 2:
        z, y, weights = z.unsqueeze(0), y.unsqueeze(0), weights.unsqueeze(0)
    if z.ndim != 3 or y.shape != z.shape[:2] or weights.shape != z.shape[:2]:
        raise ValueError(
            f"inconsistent shapes: z {tuple(z.shape)}, y {tuple(y.shape)}, "
            f"weights {tuple(weights.shape)}; expected (B, n, d), (B, n), (B, n)"
        )
    if z.shape[1] < 2:
        raise ValueError("the surrogate needs at least 2 perturbations per instance")
    if not bool((weights > 0).all()):
        raise ValueError("locality weights must all be positive")
    weight_sum = weights.sum(-1)
    z_mean = (weights.unsqueeze(-1) * z).sum(-2) / weight_sum.unsqueeze(-1)
    y_mean = (weights * y).sum(-1) / weight_sum
    return CenteredData(
        design=z - z_mean.unsqueeze(-2),
        response=y - y_mean.unsqueeze(-1),
        weights=weights,
        z_mean=z_mean,
        y_mean=y_mean,
        weight_sum=weight_sum,
    )


def bayesian_linear_surrogate(data: CenteredData, prior: Prior) -> torch.Tensor:
    """Pyro model of the weighted linear surrogate with the intercept integrated out.

    Sites: ``noise_scale`` (B,), the prior's coefficient sites with ``attribution``
    (B, d), the factor ``intercept_marginal`` and the observed ``response`` (B, n).
    Returns the attribution tensor.
    """
    n_features = data.n_features
    with pyro.plate("instances", data.n_instances, dim=-1):
        noise_scale = pyro.sample("noise_scale", prior.noise_distribution(like=data.response))
        attribution = prior.sample_coefficients(n_features, noise_scale)
        mean = torch.matmul(data.design, attribution.unsqueeze(-1)).squeeze(-1)
        scale = noise_scale.unsqueeze(-1) / data.weights.sqrt()
        pyro.factor(
            "intercept_marginal",
            0.5 * (math.log(2 * math.pi) + 2 * noise_scale.log() - data.weight_sum.log()),
        )
        pyro.sample("response", dist.Normal(mean, scale).to_event(1), obs=data.response)
    return attribution


def sample_intercept(data: CenteredData, attribution: torch.Tensor, noise_scale: torch.Tensor,
                     generator: torch.Generator) -> torch.Tensor:
    """Draw b | phi, sigma, y ~ Normal(y_bar - phi^T z_bar, sigma^2 / W) for each draw.

    ``attribution`` (..., B, d) and ``noise_scale`` (..., B) are posterior draws; returns
    (..., B).
    """
    mean = data.y_mean - (attribution * data.z_mean).sum(-1)
    sd = noise_scale / data.weight_sum.sqrt()
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype).to(mean.device)
    return mean + sd * noise
