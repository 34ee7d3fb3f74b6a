"""What the NumPyro backend needs to know about a model: a program of ONE instance.

A :class:`NumPyroProgram` is a NumPyro model written for a single instance, the data of
B instances stacked along a leading axis, and the hyperparameters the model reads as
traced values. The backend (:mod:`probex.inference.numpyro_backend`) compiles a sampler
once per (``key``, shapes of one instance's data, runner settings) and vmaps it over
instances and chains; it never looks inside the model.

Keeping hyperparameters (prior scales, degrees of freedom) out of ``key`` and passing
them as arrays means that changing them, as a prior-sensitivity sweep does, reuses the
compiled sampler.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["NumPyroProgram"]


@dataclass(frozen=True)
class NumPyroProgram:
    """A NumPyro model of one instance and the data of B instances.

    Attributes:
        model: ``model(data, hyper)``, a NumPyro model of one instance; ``data`` holds
            one instance's arrays (without the leading axis), ``hyper`` the
            hyperparameters as scalars.
        key: hashable identity of everything the model's code depends on besides
            ``data`` and ``hyper`` (prior family, structure, a user distribution object).
        data: name -> array (B, ...) when ``batched``, else one instance's arrays.
        hyper: name -> float.
        batched: whether ``data`` has the leading instance axis; draws of a batched
            program have shape (chain, draw, B, ...), of an unbatched one
            (chain, draw, ...).
    """

    model: Callable
    key: Hashable
    data: dict[str, np.ndarray]
    hyper: dict[str, float] = field(default_factory=dict)
    batched: bool = True

    @property
    def n_instances(self) -> int:
        if not self.batched:
            return 1
        return int(next(iter(self.data.values())).shape[0])
