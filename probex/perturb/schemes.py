"""Perturbation schemes: interpretable representations, model inputs and locality weights.

A scheme draws interpretable perturbations ``z`` around an instance ``x``, maps them to
model inputs ``x'`` and gives each a locality weight ``pi(z)`` and a perturbation level
in [0, 1] (how far from ``x`` the query is; ReCalX calibrates per level).

Shapes: ``x`` is (d,) or (B, d) for B instances; ``z``, ``inputs`` are (..., n, d);
``weights`` and ``levels`` are (..., n). Everything is vectorized over the leading batch
dimension, and every random draw takes an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from probex._checks import as_matrix, as_tensor, check_choice, check_positive

__all__ = [
    "PerturbationSet",
    "Perturbation",
    "GaussianPerturbation",
    "MaskPerturbation",
    "lime_kernel",
    "shapley_kernel",
    "default_kernel_width",
    "make_perturbation",
]


@dataclass(frozen=True)
class PerturbationSet:
    """Perturbations of one or more instances.

    Attributes:
        z: interpretable representation, (..., n, d).
        inputs: what the model is queried on, (..., n, d).
        weights: locality weights pi(z) >= 0, (..., n); they enter the surrogate's
            likelihood as precisions (noise variance sigma^2 / pi(z)).
        levels: perturbation level in [0, 1], (..., n).
    """

    z: torch.Tensor
    inputs: torch.Tensor
    weights: torch.Tensor
    levels: torch.Tensor

    def __len__(self) -> int:
        return self.z.shape[-2]

    @staticmethod
    def concat(parts: list[PerturbationSet]) -> PerturbationSet:
        """Join perturbation sets along the perturbation axis (-2 for z, -1 for weights)."""
        return PerturbationSet(
            z=torch.cat([p.z for p in parts], dim=-2),
            inputs=torch.cat([p.inputs for p in parts], dim=-2),
            weights=torch.cat([p.weights for p in parts], dim=-1),
            levels=torch.cat([p.levels for p in parts], dim=-1),
        )

    def select(self, index: torch.Tensor) -> PerturbationSet:
        """Rows ``index`` (along the perturbation axis) of a single-instance set."""
        return PerturbationSet(self.z[index], self.inputs[index], self.weights[index],
                               self.levels[index])


def default_kernel_width(n_features: int) -> float:
    """LIME's default kernel width, 0.75 * sqrt(d)."""
    return 0.75 * math.sqrt(n_features)


def _kernel_width(kernel_width, n_features: int) -> float:
    """A positive finite kernel width (``None``: LIME's default 0.75 sqrt(d))."""
    if kernel_width is None:
        return default_kernel_width(n_features)
    return check_positive("kernel_width", kernel_width)


def lime_kernel(distances: torch.Tensor, width: float) -> torch.Tensor:
    """LIME's exponential kernel ``sqrt(exp(-D^2 / width^2))`` (as in the lime package)."""
    return torch.exp(-0.5 * distances.pow(2) / width**2)


def shapley_kernel(z: torch.Tensor) -> torch.Tensor:
    """The Shapley kernel of Lundberg & Lee (2017), Theorem 2.

    pi(z) = (d - 1) / (C(d, |z|) |z| (d - |z|)), infinite for the empty and full coalitions.
    """
    d = z.shape[-1]
    size = z.sum(-1)
    log_binom = (torch.lgamma(torch.tensor(d + 1.0, dtype=z.dtype)) - torch.lgamma(size + 1)
                 - torch.lgamma(d - size + 1))
    weight = (d - 1) / (torch.exp(log_binom) * size * (d - size))
    return torch.where((size == 0) | (size == d), torch.full_like(weight, math.inf), weight)


class Perturbation:
    """Base class of perturbation schemes (see module docstring for shapes)."""

    n_features: int
    kernel: str

    def sample_z(self, n: int, generator: torch.Generator, batch_shape=()) -> torch.Tensor:
        """Draw ``n`` interpretable perturbations per instance: (*batch_shape, n, d)."""
        raise NotImplementedError

    def to_inputs(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Model inputs for interpretable perturbations ``z`` of instances ``x``."""
        raise NotImplementedError

    def weights(self, z: torch.Tensor) -> torch.Tensor:
        """Locality weights pi(z), (..., n)."""
        raise NotImplementedError

    def levels(self, z: torch.Tensor) -> torch.Tensor:
        """Perturbation level of each row in [0, 1], (..., n)."""
        raise NotImplementedError

    def anchors(self) -> torch.Tensor:
        """Interpretable rows every design includes (e.g. the instance itself), (k, d)."""
        raise NotImplementedError

    def complete(self, x: torch.Tensor, z: torch.Tensor) -> PerturbationSet:
        """Attach inputs, weights and levels to interpretable perturbations ``z``."""
        return PerturbationSet(z=z, inputs=self.to_inputs(x, z), weights=self.weights(z),
                               levels=self.levels(z))

    def sample(self, x, n: int, generator: torch.Generator, include_anchors: bool = True
               ) -> PerturbationSet:
        """``n`` perturbations of ``x`` ((d,) or (B, d)), anchors first when requested."""
        x = self._as_instances(x)
        if n < 1:
            raise ValueError(f"the number of perturbations must be positive, got {n}")
        z = self.sample_z(n, generator, x.shape[:-1])
        return self.complete(x, self._with_anchors(z, n) if include_anchors else z)

    def sample_rows(self, x, n: int, generators, include_anchors: bool = True
                    ) -> PerturbationSet:
        """``n`` perturbations of each instance of x (B, d), instance i drawn from
        ``generators[i]`` alone (so its perturbations do not depend on the batch)."""
        x = self._as_instances(x)
        if x.ndim != 2 or len(generators) != x.shape[0]:
            raise ValueError(f"sample_rows takes x of shape (B, d) and B generators; got "
                             f"{tuple(x.shape)} and {len(generators)}")
        if n < 1:
            raise ValueError(f"the number of perturbations must be positive, got {n}")
        z = torch.stack([self.sample_z(n, generator) for generator in generators])
        return self.complete(x, self._with_anchors(z, n) if include_anchors else z)

    def _with_anchors(self, z: torch.Tensor, n: int) -> torch.Tensor:
        """The scheme's anchor rows followed by the first n - k rows of ``z`` (..., n, d)."""
        anchors = self.anchors().expand(*z.shape[:-2], -1, -1)
        return torch.cat([anchors, z[..., : max(n - anchors.shape[-2], 0), :]], dim=-2)

    def _as_instances(self, x) -> torch.Tensor:
        x = as_tensor(x, "x")
        if x.ndim not in (1, 2) or x.shape[-1] != self.n_features:
            raise ValueError(
                f"x must have shape ({self.n_features},) or (n_instances, {self.n_features}); "
                f"got {tuple(x.shape)}"
            )
        return x


class GaussianPerturbation(Perturbation):
    """LIME-style Gaussian sampling around the instance, scaled per feature.

    ``x' = x + std * z`` with ``z ~ N(0, scale^2 I)``; ``z`` (in units of each feature's
    standard deviation) is the interpretable representation, so a coefficient is the
    change of the output per one-std change of that feature. The LIME kernel uses the
    Euclidean norm of ``z``; ``kernel="none"`` weights every row 1 (continuous LIME).

    Args:
        background: (N, d) reference data whose per-feature standard deviation scales
            the noise (features with zero spread get std 1, as in lime).
        scale: noise standard deviation in units of ``std``.
        std: per-feature scale (d,) or scalar, instead of the background's.
        kernel: ``"lime"`` or ``"none"``.
        kernel_width: LIME kernel width; default 0.75 * sqrt(d).
    """

    def __init__(self, background=None, scale: float = 1.0, std=None, kernel: str = "lime",
                 kernel_width: float | None = None):
        check_choice("kernel", kernel, ("lime", "none"))
        if std is None:
            if background is None:
                raise ValueError("GaussianPerturbation needs background= data or std=")
            background = as_matrix(background, "background")
            std = background.std(dim=0, unbiased=False)
            std = torch.where(std > 0, std, torch.ones_like(std))
            n_features = background.shape[1]
        else:
            std = as_tensor(std, "std")
            if bool((std <= 0).any()):
                raise ValueError("std must be positive")
            n_features = background.shape[1] if background is not None else std.numel()
            std = std.expand(n_features) if std.ndim == 0 else std
        scale = check_positive("scale", scale)
        self.n_features = int(n_features)
        self.std = std
        self.scale = float(scale)
        self.kernel = kernel
        self.kernel_width = _kernel_width(kernel_width, self.n_features)

    def sample_z(self, n, generator, batch_shape=()):
        shape = (*batch_shape, n, self.n_features)
        return self.scale * torch.randn(shape, generator=generator, dtype=torch.float64)

    def to_inputs(self, x, z):
        return x.unsqueeze(-2) + z * self.std

    def weights(self, z):
        if self.kernel == "none":
            return torch.ones(z.shape[:-1], dtype=z.dtype)
        return lime_kernel(z.norm(dim=-1), self.kernel_width)

    def levels(self, z):
        # ||z / scale||^2 ~ chi^2_d under the sampler, so its CDF is a level in [0, 1]
        # that is uniform over draws: the equal-mass severity bins ReCalX calibrates on.
        squared = (z / self.scale).pow(2).sum(-1)
        return torch.special.gammainc(torch.tensor(self.n_features / 2.0), squared / 2.0)

    def anchors(self):
        return torch.zeros(1, self.n_features, dtype=torch.float64)


class MaskPerturbation(Perturbation):
    """Binary masks: ``z_j = 1`` keeps feature j, ``z_j = 0`` replaces it by a baseline.

    ``x' = z * x + (1 - z) * baseline``. With ``kernel="lime"`` masks are uniform
    (each bit Bernoulli(1/2)) and weighted by LIME's kernel of ``||1 - z||``. With
    ``kernel="shap"`` masks follow KernelSHAP's sampling: a coalition size k in 1..d-1
    with probability proportional to (d - 1) / (k (d - k)), then a uniform subset of that
    size. Sampling then already follows the Shapley kernel, so the regression weight
    pi(z) / q(z) is the same constant (1) for every sampled row; the empty and full
    coalitions (the anchors) get ``anchor_weight``, which approximately enforces the
    efficiency constraint sum(phi) = f(x) - f(baseline).

    Args:
        background: (N, d) reference data for the baseline.
        replacement: ``"mean"``, ``"median"``, ``"zero"`` or an explicit (d,) baseline.
        kernel: ``"lime"`` or ``"shap"``.
        kernel_width: LIME kernel width; default 0.75 * sqrt(d).
        anchor_weight: weight of the empty and full coalitions under ``kernel="shap"``.
    """

    def __init__(self, background=None, replacement="mean", kernel: str = "lime",
                 kernel_width: float | None = None, anchor_weight: float = 1e3):
        check_choice("kernel", kernel, ("lime", "shap"))
        if isinstance(replacement, str):
            check_choice("replacement", replacement, ("mean", "median", "zero"))
            if background is None:
                raise ValueError(f"replacement={replacement!r} needs background= data")
            background = as_matrix(background, "background")
            if replacement == "mean":
                baseline = background.mean(dim=0)
            elif replacement == "median":
                baseline = background.median(dim=0).values
            else:
                baseline = torch.zeros(background.shape[1], dtype=torch.float64)
        else:
            baseline = as_tensor(replacement, "replacement")
            if baseline.ndim != 1:
                raise ValueError("an explicit replacement baseline must have shape (d,)")
        self.baseline = baseline
        self.n_features = int(baseline.shape[0])
        if kernel == "shap" and self.n_features < 2:
            raise ValueError("the Shapley kernel needs at least 2 features")
        self.kernel = kernel
        self.kernel_width = _kernel_width(kernel_width, self.n_features)
        self.anchor_weight = float(anchor_weight)

    def sample_z(self, n, generator, batch_shape=()):
        d = self.n_features
        shape = (*batch_shape, n, d)
        if self.kernel == "lime":
            return torch.bernoulli(torch.full(shape, 0.5, dtype=torch.float64),
                                   generator=generator)
        k = torch.arange(1, d, dtype=torch.float64)
        size_probs = (d - 1) / (k * (d - k))
        sizes = torch.multinomial(size_probs / size_probs.sum(), int(np.prod(shape[:-1])),
                                  replacement=True, generator=generator) + 1
        ranks = torch.rand(shape, generator=generator, dtype=torch.float64).argsort(-1).argsort(-1)
        return (ranks < sizes.reshape(*shape[:-1], 1)).to(torch.float64)

    def to_inputs(self, x, z):
        return z * x.unsqueeze(-2) + (1.0 - z) * self.baseline

    def weights(self, z):
        if self.kernel == "lime":
            return lime_kernel((1.0 - z).norm(dim=-1), self.kernel_width)
        size = z.sum(-1)
        anchor = (size == 0) | (size == self.n_features)
        return torch.where(anchor, torch.full_like(size, self.anchor_weight),
                           torch.ones_like(size))

    def levels(self, z):
        return 1.0 - z.mean(dim=-1)

    def anchors(self):
        ones = torch.ones(1, self.n_features, dtype=torch.float64)
        if self.kernel == "shap":
            return torch.cat([ones, torch.zeros_like(ones)])
        return ones


def make_perturbation(scheme, background, kernel: str, kernel_width: float | None = None
                      ) -> Perturbation:
    """Build a scheme from its name (``"gaussian"`` or ``"mask"``), or pass one through."""
    if isinstance(scheme, Perturbation):
        return scheme
    check_choice("perturbation", scheme, ("gaussian", "mask"))
    if scheme == "gaussian":
        if kernel == "shap":
            raise ValueError("the Shapley kernel needs binary masks: use perturbation='mask'")
        return GaussianPerturbation(background, kernel=kernel, kernel_width=kernel_width)
    return MaskPerturbation(background, kernel=kernel, kernel_width=kernel_width)
