"""Selectors of LEX: amortized distributions p_gamma(z | x) over binary feature masks.

A selector is a network x -> logits l(x) in R^d and a family of mask distributions they
parameterise (Senetaire et al., 2023, "Explainability as statistical inference", Sec. 3):

* ``"bernoulli"``: z_j | x ~ Bernoulli(sigmoid(l_j(x))) independently (INVASE, REAL-X,
  LEX). Inclusion probability pi_j(x) = sigmoid(l_j(x)).
* ``"subset"``: L2X's k-subset (Chen et al., 2018, Sec. 3.2): the union of k draws *with
  replacement* from Categorical(w(x)), w = softmax(l(x)). For a set S with 1 <= |S| <= k,
  by inclusion-exclusion over the draws that all fall in S and together cover it,

      P(z = 1_S | x) = sum_{T subset of S} (-1)^{|S| - |T|} (sum_{j in T} w_j)^k,

  and the inclusion probability of feature j is 1 - (1 - w_j)^k. Its relaxation
  (:class:`RelaxedKSubset`) is L2X's: the elementwise maximum of k Gumbel-softmax draws
  with temperature tau.

With ``units`` (:class:`~probex.perturb.FeatureGroups`), a Bernoulli selector decides per
group of features: its logits are averaged within each unit, so every feature of a unit
has the same inclusion probability and the reported selection (pi > 0.5) takes whole
units. Masks are then drawn per feature with the unit's probability (``unit_draws=
"feature"``) or once per unit (``"unit"``, :mod:`probex.models.unit_masks`: the whole
unit kept or dropped). Inclusion probabilities stay per feature, so a sparsity penalty
per feature charges a unit for every feature it keeps.

Relaxed Bernoulli masks use Pyro's ``RelaxedBernoulli`` / ``RelaxedBernoulliStraightThrough``
(Maddison et al., 2017; Jang et al., 2017). All distributions have event shape (d,) and a
batch shape that Pyro plates can expand.
"""

from __future__ import annotations

import itertools
import math

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from pyro.distributions import TorchDistribution
from torch import nn
from torch.distributions import constraints

from probex._checks import check_choice
from probex.models.unit_masks import UnitMask, first_features, unit_logits
from probex.perturb.groups import FeatureGroups

__all__ = ["MaskSelector", "ConvSelectorNet", "KSubset", "RelaxedKSubset", "all_masks", "FAMILIES",
           "UNIT_DRAWS"]

FAMILIES = ("bernoulli", "subset")
#: how masks over units are drawn: per feature with the unit's probability, or per unit
UNIT_DRAWS = ("feature", "unit")
_MAX_SUBSET_K = 12  # 2^k inclusion-exclusion terms per log-probability


def all_masks(n_features: int, dtype=torch.float32) -> torch.Tensor:
    """Every binary mask over ``n_features`` features: shape (2^d, d), row i = bits of i."""
    if not 1 <= n_features <= 20:
        raise ValueError(f"enumerating masks needs 1 <= d <= 20 features, got {n_features}")
    rows = torch.arange(2 ** n_features)
    bits = (rows[:, None] >> torch.arange(n_features)) & 1
    return bits.to(dtype)


class KSubset(TorchDistribution):
    """Union of k draws with replacement from Categorical(softmax(logits)) (hard L2X masks).

    Args:
        logits: (..., d) unnormalised log weights.
        k: number of draws (1 <= k <= 12); a mask has between 1 and k selected features.
    """

    arg_constraints = {"logits": constraints.real_vector}
    support = constraints.independent(constraints.boolean, 1)
    has_rsample = False

    def __init__(self, logits: torch.Tensor, k: int, validate_args=None):
        if not 1 <= int(k) <= _MAX_SUBSET_K:
            raise ValueError(f"k must be in 1..{_MAX_SUBSET_K}, got {k}")
        self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self.k = int(k)
        super().__init__(logits.shape[:-1], logits.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        shape = torch.Size(batch_shape) + self.event_shape
        return KSubset(self.logits.expand(shape), self.k, validate_args=False)

    @property
    def inclusion_probabilities(self) -> torch.Tensor:
        """P(z_j = 1) = 1 - (1 - w_j)^k, shape (..., d)."""
        return -torch.expm1(self.k * torch.log1p(-self.logits.exp().clamp(max=1 - 1e-7)))

    @property
    def mean(self) -> torch.Tensor:
        return self.inclusion_probabilities

    def sample(self, sample_shape=()):
        with torch.no_grad():
            draws = dist.Categorical(logits=self.logits).sample(
                torch.Size([self.k]) + torch.Size(sample_shape))
            return F.one_hot(draws, self.event_shape[0]).amax(0).to(self.logits.dtype)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Exact log P(z = value) by inclusion-exclusion (2^k terms), computed in float64."""
        if self._validate_args:
            self._validate_sample(value)
        shape = torch.broadcast_shapes(value.shape, self.logits.shape)
        value = value.expand(shape).to(torch.float64)
        weights = self.logits.exp().to(torch.float64).expand(shape)
        size = value.sum(-1)
        k = self.k
        slots = min(k, shape[-1])
        # the selected features first (stable order), k slots; slot i is valid if i < |S|
        order = torch.argsort(value, dim=-1, descending=True, stable=True)[..., :slots]
        chosen = torch.gather(weights, -1, order)
        patterns = torch.tensor(list(itertools.product((0.0, 1.0), repeat=slots)),
                                dtype=torch.float64, device=value.device)  # (2^slots, slots)
        invalid = (torch.arange(slots, device=value.device) >= size[..., None]).to(torch.float64)
        uses_invalid = (invalid @ patterns.T) > 0  # (..., 2^slots): T reaches past |S|
        terms = (chosen @ patterns.T) ** k  # (..., 2^slots)
        sign = (-1.0) ** (size[..., None] - patterns.sum(-1))
        prob = (torch.where(uses_invalid, 0.0, sign * terms)).sum(-1)
        valid = (size >= 1) & (size <= k)
        log_p = torch.log(prob.clamp_min(torch.finfo(torch.float64).tiny))
        return torch.where(valid, log_p, -math.inf).to(self.logits.dtype)


class _StraightThrough(torch.autograd.Function):
    """Forward: the hard value exactly; backward: the gradient of the soft value."""

    @staticmethod
    def forward(ctx, soft, hard):
        return hard.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class RelaxedKSubset(TorchDistribution):
    """L2X's relaxed k-subset: z = max_{i<=k} softmax((logits + g_i) / tau), g_i Gumbel.

    With ``straight_through`` the forward value is the hard union of the k Gumbel argmaxes
    (a :class:`KSubset` draw) and the gradient is the relaxed sample's. There is no
    density; train with the relaxed (pathwise) estimator.
    """

    arg_constraints = {"logits": constraints.real_vector}
    support = constraints.independent(constraints.unit_interval, 1)
    has_rsample = True

    def __init__(self, logits: torch.Tensor, k: int, temperature: float = 0.5,
                 straight_through: bool = False, validate_args=None):
        if not 1 <= int(k) <= logits.shape[-1]:
            raise ValueError(f"k must be in 1..{logits.shape[-1]}, got {k}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.logits = logits
        self.k = int(k)
        self.temperature = float(temperature)
        self.straight_through = bool(straight_through)
        super().__init__(logits.shape[:-1], logits.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        shape = torch.Size(batch_shape) + self.event_shape
        return RelaxedKSubset(self.logits.expand(shape), self.k, self.temperature,
                              self.straight_through, validate_args=False)

    def rsample(self, sample_shape=()):
        shape = torch.Size([self.k]) + self._extended_shape(sample_shape)
        tiny = torch.finfo(self.logits.dtype).tiny
        uniform = torch.rand(shape, dtype=self.logits.dtype, device=self.logits.device)
        gumbel = -torch.log((-torch.log(uniform.clamp_min(tiny))).clamp_min(tiny))
        scores = self.logits + gumbel
        soft = torch.softmax(scores / self.temperature, dim=-1).amax(0)
        if not self.straight_through:
            return soft
        hard = F.one_hot(scores.argmax(-1), self.event_shape[0]).amax(0).to(soft.dtype)
        return _StraightThrough.apply(soft, hard)

    def log_prob(self, value):
        raise NotImplementedError(
            "the relaxed k-subset has no closed-form density; use estimator='relaxed' with "
            "it, or the hard KSubset with estimator='reinforce'")


class MaskSelector(nn.Module):
    """The selector network of LEX: x (..., d) -> logits (..., d) -> p_gamma(z | x).

    Args:
        network: module mapping (B, d) inputs to (B, d) logits.
        family: ``"bernoulli"`` or ``"subset"`` (needs ``k``).
        k: number of draws of the k-subset family.
        units: mask units (Bernoulli only): logits are averaged within each unit;
            ``None``: every feature its own unit.
        unit_draws: with ``units``, draw each feature with its unit's probability
            (``"feature"``) or one value per unit (``"unit"``).
    """

    def __init__(self, network: nn.Module, family: str = "bernoulli", k: int | None = None,
                 units: FeatureGroups | None = None, unit_draws: str = "feature"):
        super().__init__()
        check_choice("selector", family, FAMILIES)
        if family == "subset" and k is None:
            raise ValueError("selector='subset' needs k, the number of features to select")
        if units is not None and family != "bernoulli":
            raise ValueError("mask units need the Bernoulli selector (selector='bernoulli')")
        self.network = network
        self.family = family
        self.k = None if k is None else int(k)
        self.units = units
        check_choice("unit_draws", unit_draws, UNIT_DRAWS)
        self.unit_draws = unit_draws

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-feature logits (..., d) (constant within each mask unit, if any)."""
        batch = x.shape[:-1]
        out = self.network(x.reshape(-1, x.shape[-1]))
        if self.units is not None:
            out = unit_logits(out, self.units)
        return out.reshape(*batch, out.shape[-1])

    def distribution(self, x: torch.Tensor, relaxed: bool = False, temperature: float = 0.5,
                     straight_through: bool = True, detach: bool = False):
        """The mask distribution at x: batch shape x.shape[:-1], event shape (d,).

        ``relaxed`` gives the continuous relaxation (Gumbel-softmax / Concrete), hard in
        the forward pass if ``straight_through``. ``detach`` holds the logits constant.
        """
        logits = self.logits(x)
        return self.distribution_from_logits(logits.detach() if detach else logits, relaxed,
                                             temperature, straight_through)

    def distribution_from_logits(self, logits: torch.Tensor, relaxed: bool = False,
                                 temperature: float = 0.5, straight_through: bool = True):
        """:meth:`distribution` for logits already computed, shape (..., d)."""
        if self.family == "subset":
            if relaxed:
                return RelaxedKSubset(logits, self.k, temperature, straight_through)
            return KSubset(logits, self.k)
        per_unit = self.units is not None and self.unit_draws == "unit"
        if per_unit:  # one value per unit: the logits are constant within it
            logits = logits[..., first_features(self.units).to(logits.device)]
        if not relaxed:
            base = dist.Bernoulli(logits=logits).to_event(1)
        else:
            temperature = torch.tensor(temperature, dtype=logits.dtype, device=logits.device)
            relaxed_cls = (dist.RelaxedBernoulliStraightThrough if straight_through
                           else dist.RelaxedBernoulli)
            base = relaxed_cls(temperature, logits=logits).to_event(1)
        return UnitMask(base, self.units) if per_unit else base

    def inclusion_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """P(z_j = 1 | x), shape (..., d): sigmoid(l) or 1 - (1 - softmax(l))^k."""
        return self.inclusion_from_logits(self.logits(x))

    def inclusion_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """:meth:`inclusion_probabilities` for logits already computed."""
        if self.family == "subset":
            return KSubset(logits, self.k).inclusion_probabilities
        return torch.sigmoid(logits)

    def mode(self, x: torch.Tensor) -> torch.Tensor:
        """The selection reported for x: pi_j > 0.5 (bernoulli) or the top-k logits (subset,
        as L2X does at test time); float mask of shape (..., d)."""
        logits = self.logits(x)
        if self.family == "subset":
            top = logits.topk(min(self.k, logits.shape[-1]), dim=-1).indices
            return torch.zeros_like(logits).scatter(-1, top, 1.0)
        return (logits > 0).to(logits.dtype)


class ConvSelectorNet(nn.Module):
    """A small U-Net-like selector for images given as flat rows: (B, H*W) -> (B, H*W)
    logits, one per pixel.

    Two 3x3 convolutions at full resolution, two more after 2x2 max-pooling (receptive
    field about 14 pixels), upsampled and concatenated with the full-resolution features,
    then a 3x3 and a 1x1 convolution. Convolutions share weights across positions, so
    what is learnt about a digit on one side of a picture applies on the other side.
    """

    def __init__(self, image_shape: tuple[int, int], width: int = 16):
        super().__init__()
        h, w = (int(v) for v in image_shape)
        if h < 2 or w < 2 or h % 2 or w % 2:
            raise ValueError(f"image_shape must be two even sizes >= 2, got {image_shape!r}")
        self.image_shape = (h, w)
        self.encoder = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.coarse = nn.Sequential(nn.MaxPool2d(2),
                                    nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
                                    nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
                                    nn.Upsample(scale_factor=2, mode="nearest"))
        self.head = nn.Sequential(nn.Conv2d(3 * width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.image_shape
        if x.shape[-1] != h * w:
            raise ValueError(f"the selector expects {h}x{w} = {h * w} pixels per row, got "
                             f"{x.shape[-1]}")
        image = x.reshape(-1, 1, h, w)
        fine = self.encoder(image)
        features = torch.cat([fine, self.coarse(fine)], dim=1)
        return self.head(features).reshape(x.shape[0], h * w)
