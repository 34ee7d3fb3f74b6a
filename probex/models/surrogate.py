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

The model evaluates the Gaussian likelihood of the n centred rows,
sum_i log N(y_i | phi^T z_i, sigma^2 / pi_i), from its sufficient statistics
(:class:`SufficientStatistics`: G = Z^T W Z, h = Z^T W y, q = y^T W y), as

    -n/2 log(2 pi sigma^2) + 1/2 sum_i log pi_i - (q - 2 phi^T h + phi^T G phi) / (2 sigma^2),

so a gradient costs O(B d^2) rather than O(B n d): with thousands of perturbations and
many instances in one NUTS run, this is most of the sampler's time.

Shapes: ``design`` (B, n, d), ``response`` and ``weights`` (B, n); latent sites have
batch shape (B,) inside the ``"instances"`` plate (dim -1): ``noise_scale`` (B,),
``attribution`` (B, d), so Predictive can add a leading draws dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyro
import torch

from probex.prior_base import Prior

__all__ = ["CenteredData", "SufficientStatistics", "center", "bayesian_linear_surrogate",
           "gaussian_log_likelihood", "sample_intercept"]


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


@dataclass(frozen=True)
class SufficientStatistics:
    """What the Gaussian likelihood of the centred data depends on, per instance.

    Attributes:
        gram: Z^T W Z, (B, d, d).
        cross: Z^T W y, (B, d).
        sum_squares: y^T W y, (B,).
        sum_log_weights: sum_i log w_i, (B,).
        weight_sum: W = sum_i w_i, (B,).
        n_observations: n, rows per instance.
    """

    gram: torch.Tensor
    cross: torch.Tensor
    sum_squares: torch.Tensor
    sum_log_weights: torch.Tensor
    weight_sum: torch.Tensor
    n_observations: int

    @classmethod
    def of(cls, data: CenteredData) -> SufficientStatistics:
        weighted = data.design * data.weights.unsqueeze(-1)
        return cls(
            gram=data.design.transpose(-1, -2) @ weighted,
            cross=(weighted * data.response.unsqueeze(-1)).sum(-2),
            sum_squares=(data.weights * data.response.pow(2)).sum(-1),
            sum_log_weights=data.weights.log().sum(-1),
            weight_sum=data.weight_sum,
            n_observations=data.n_observations,
        )

    @property
    def n_instances(self) -> int:
        return self.gram.shape[0]

    @property
    def n_features(self) -> int:
        return self.gram.shape[-1]


def gaussian_log_likelihood(stats: SufficientStatistics, attribution: torch.Tensor,
                            noise_scale: torch.Tensor) -> torch.Tensor:
    """sum_i log N(y_i | phi^T z_i, sigma^2 / w_i) of the centred rows, (..., B).

    ``attribution`` (..., B, d) and ``noise_scale`` (..., B).
    """
    quadratic = (attribution.unsqueeze(-2) @ stats.gram @ attribution.unsqueeze(-1))
    residual = (stats.sum_squares - 2 * (attribution * stats.cross).sum(-1)
                + quadratic.squeeze(-1).squeeze(-1)).clamp_min(0.0)
    n = stats.n_observations
    return (-0.5 * n * (math.log(2 * math.pi) + 2 * noise_scale.log())
            + 0.5 * stats.sum_log_weights - 0.5 * residual / noise_scale.pow(2))


def intercept_log_factor(stats: SufficientStatistics, noise_scale: torch.Tensor) -> torch.Tensor:
    """log (2 pi sigma^2 / W)^(1/2): what integrating the flat-prior intercept adds, (..., B)."""
    return 0.5 * (math.log(2 * math.pi) + 2 * noise_scale.log() - stats.weight_sum.log())


def bayesian_linear_surrogate(stats: SufficientStatistics, prior: Prior) -> torch.Tensor:
    """Pyro model of the weighted linear surrogate with the intercept integrated out.

    Sites: ``noise_scale`` (B,), the prior's coefficient sites with ``attribution``
    (B, d), and the factors ``likelihood`` (the centred rows, module docstring) and
    ``intercept_marginal`` (B,). Returns the attribution tensor.
    """
    if not isinstance(stats, SufficientStatistics):
        raise TypeError("bayesian_linear_surrogate takes SufficientStatistics.of(center(...))")
    with pyro.plate("instances", stats.n_instances, dim=-1):
        noise_scale = pyro.sample("noise_scale", prior.noise_distribution(like=stats.cross))
        attribution = prior.sample_coefficients(stats.n_features, noise_scale)
        pyro.factor("likelihood", gaussian_log_likelihood(stats, attribution, noise_scale))
        pyro.factor("intercept_marginal", intercept_log_factor(stats, noise_scale))
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
