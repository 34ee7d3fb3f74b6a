"""Masks over groups of features: one Bernoulli unit per group, expanded to the features.

A selector over d features may decide for G < d *units* (e.g. 4x4 patches of an image,
:class:`~probex.perturb.FeatureGroups`): every feature of a unit is kept or dropped
together. With fewer, larger units the score-function estimate of each unit's value
averages over the unit's features, which is what makes LEX learn on images such as
Switching Panels (128 pixel units give a signal-to-noise ratio of about 0.03 per mask;
8 patches of 16 pixels about 16 times more; FEX/LEX diagnosis, issue 17).

:func:`unit_logits` averages per-feature logits within each unit; :class:`UnitMask`
wraps a distribution over the G units (event shape (G,)) as one over the d features
(event shape (d,)): samples are expanded, and the log-probability of a feature mask is
that of its units (read at each unit's first feature; the mask must be constant within
units, as the samples are).
"""

from __future__ import annotations

import torch
from pyro.distributions import TorchDistribution

from probex.perturb.groups import FeatureGroups

__all__ = ["UnitMask", "unit_logits", "first_features"]


def first_features(groups: FeatureGroups) -> torch.Tensor:
    """(G,) index of the first feature of each unit."""
    ids = groups.ids
    first = torch.full((groups.n_groups,), ids.numel(), dtype=torch.long)
    return first.scatter_reduce(0, ids, torch.arange(ids.numel()), reduce="amin")


def unit_logits(logits: torch.Tensor, groups: FeatureGroups) -> torch.Tensor:
    """Per-feature logits (..., d) -> their mean within each unit, expanded back to the
    features (..., d): constant within units."""
    membership = groups.membership.to(logits.device, logits.dtype)  # (G, d)
    means = (logits @ membership.T) / membership.sum(1)
    return means[..., groups.ids.to(logits.device)]


class UnitMask(TorchDistribution):
    """A distribution over G units seen as one over the d features of ``groups``.

    Args:
        base: distribution with event shape (G,) (e.g. ``Bernoulli(logits).to_event(1)``
            or a relaxed Bernoulli).
        groups: the units.
    """

    arg_constraints = {}

    def __init__(self, base, groups: FeatureGroups, validate_args=None):
        if tuple(base.event_shape) != (groups.n_groups,):
            raise ValueError(f"the unit distribution has event shape {tuple(base.event_shape)}"
                             f"; expected ({groups.n_groups},)")
        self.base, self.groups = base, groups
        self.has_rsample = bool(base.has_rsample)
        super().__init__(base.batch_shape, torch.Size([groups.n_features]),
                         validate_args=False)

    @property
    def support(self):
        return self.base.support

    def _ids(self, like: torch.Tensor) -> torch.Tensor:
        return self.groups.ids.to(like.device)

    def expand(self, batch_shape, _instance=None):
        return UnitMask(self.base.expand(batch_shape), self.groups)

    def sample(self, sample_shape=()):
        units = self.base.sample(sample_shape)
        return units[..., self._ids(units)]

    def rsample(self, sample_shape=()):
        units = self.base.rsample(sample_shape)
        return units[..., self._ids(units)]

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.base.log_prob(value[..., first_features(self.groups).to(value.device)])

    @property
    def mean(self) -> torch.Tensor:
        mean = self.base.mean
        return mean[..., self._ids(mean)]

    def entropy(self) -> torch.Tensor:
        return self.base.entropy()
