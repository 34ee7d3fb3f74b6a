"""The common result of every inference path, before it becomes an InferenceData."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PosteriorDraws"]


@dataclass
class PosteriorDraws:
    """Posterior draws from exact sampling, SVI or NUTS.

    Attributes:
        posterior: site name -> array of shape (chain, draw, *site_shape).
        sample_stats: per-draw sampler statistics, (chain, draw) each, e.g. ``diverging``,
            ``step_size``, ``tree_depth``, ``n_steps``, ``acceptance_rate``, ``lp``.
        method: ``"exact"``, ``"svi"`` or ``"nuts"``.
        info: anything else worth keeping (loss trace, timings, settings).
        sample_stats_dims: names of the dimensions of a statistic after (chain, draw),
            e.g. ``{"energy": ["instance"]}`` when every instance is its own chain (the
            NumPyro backend); absent: one value per (chain, draw).
    """

    posterior: dict[str, np.ndarray]
    method: str
    sample_stats: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    sample_stats_dims: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_chains(self) -> int:
        return next(iter(self.posterior.values())).shape[0]

    @property
    def n_draws(self) -> int:
        return next(iter(self.posterior.values())).shape[1]
