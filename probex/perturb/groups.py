"""Feature groups: a partition of d features into G mask units.

Mask-based methods (FEX, RISE, the deletion/insertion curves of
:mod:`probex.metrics.faithfulness`) may mask whole groups of features at once, e.g. the
patches of an image. :class:`FeatureGroups` converts between per-unit values (..., G) and
per-feature values (..., d).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["FeatureGroups"]


class FeatureGroups:
    """A partition of d features into G mask units.

    Args:
        groups: ``None`` (every feature its own unit), an integer array of length d with
            the unit id of each feature (as captum's ``feature_mask``; ids need not be
            contiguous), or a list of G lists of feature indices covering 0..d-1 once.
        n_features: d.

    Attributes:
        ids: (d,) long tensor, unit index 0..G-1 of each feature.
        membership: (G, d) float tensor, 1 where feature j belongs to unit g.
    """

    def __init__(self, groups, n_features: int):
        d = int(n_features)
        if groups is None:
            ids = np.arange(d)
        elif isinstance(groups, (list, tuple)) and len(groups) > 0 and all(
                isinstance(g, (list, tuple, range, np.ndarray)) for g in groups):
            ids = np.full(d, -1)
            for unit, members in enumerate(groups):
                members = np.asarray(list(members), dtype=int)
                if members.size == 0:
                    raise ValueError(f"feature group {unit} is empty")
                if members.min() < 0 or members.max() >= d:
                    raise ValueError(f"feature group {unit} has indices outside 0..{d - 1}")
                if (ids[members] >= 0).any():
                    raise ValueError(f"feature group {unit} overlaps an earlier group")
                ids[members] = unit
            if (ids < 0).any():
                raise ValueError(f"features {np.flatnonzero(ids < 0)[:5].tolist()} are in no "
                                 "group; feature groups must cover every feature")
        else:
            try:
                raw = np.asarray(groups)
            except ValueError as err:  # ragged mixtures of ids and lists
                raise ValueError(f"feature_groups must be None, {d} integer group ids, or a "
                                 f"list of index lists; got {groups!r}") from err
            if raw.shape != (d,) or not np.issubdtype(raw.dtype, np.integer):
                raise ValueError(f"feature_groups must be None, {d} integer group ids, or a "
                                 f"list of index lists; got shape {raw.shape}")
            _, ids = np.unique(raw, return_inverse=True)
        self.ids = torch.as_tensor(ids.reshape(-1), dtype=torch.long)
        self.n_features = d
        self.n_groups = int(self.ids.max()) + 1
        self.membership = F.one_hot(self.ids, self.n_groups).T.to(torch.float64)

    @classmethod
    def image_patches(cls, height: int, width: int, patch: int) -> FeatureGroups:
        """Square ``patch`` x ``patch`` patches of a row-major (height, width) image."""
        if height % patch or width % patch:
            raise ValueError(f"patch={patch} does not tile a {height}x{width} image")
        rows = np.arange(height)[:, None] // patch
        cols = np.arange(width)[None, :] // patch
        ids = rows * (width // patch) + cols
        return cls(ids.reshape(-1), height * width)

    def expand(self, unit_values: torch.Tensor) -> torch.Tensor:
        """Per-unit values (..., G) -> per-feature values (..., d) (each feature its unit's)."""
        return unit_values[..., self.ids.to(unit_values.device)]

    def pool(self, feature_values: torch.Tensor) -> torch.Tensor:
        """Per-feature values (..., d) -> per-unit sums (..., G)."""
        membership = self.membership.to(feature_values.device, feature_values.dtype)
        return feature_values @ membership.T

    @property
    def sizes(self) -> torch.Tensor:
        """Number of features in each unit, (G,)."""
        return self.membership.sum(1)
