"""Finding a model's latent and deterministic sites, and evaluating them at draws."""

from __future__ import annotations

import pyro
import torch
from pyro import poutine
from pyro.infer import Predictive
from pyro.poutine.util import site_is_subsample

__all__ = ["latent_and_deterministic_sites", "deterministic_sites_at"]


def latent_and_deterministic_sites(model, *args, **kwargs
                                   ) -> tuple[list[str], list[str], int]:
    """Names of the unobserved sample sites and of the ``pyro.deterministic`` sites, and
    the model's maximum plate nesting."""
    with poutine.block(), pyro.validation_enabled(False):
        trace = poutine.trace(model).get_trace(*args, **kwargs)
    latent, deterministic, nesting = [], [], 0
    for name, site in trace.nodes.items():
        if site["type"] != "sample" or site_is_subsample(site):
            continue
        nesting = max(nesting, len(site["cond_indep_stack"]))
        if site["infer"].get("_deterministic"):
            deterministic.append(name)
        elif not site["is_observed"]:
            latent.append(name)
    return latent, deterministic, nesting


def deterministic_sites_at(model, samples: dict[str, torch.Tensor], names: list[str],
                           *args, **kwargs) -> dict[str, torch.Tensor]:
    """Evaluate deterministic sites at posterior draws of the latent sites.

    ``samples`` maps latent site names to tensors with one leading draws dimension; the
    model is replayed once, vectorized over draws.
    """
    if not names:
        return {}
    predictive = Predictive(model, posterior_samples=samples, return_sites=names,
                            parallel=True)
    with torch.no_grad():
        out = predictive(*args, **kwargs)
    return {name: out[name] for name in names}
