"""How posteriors are computed, independently of any explanation method.

- :mod:`probex.inference.exact`: closed-form conjugate posteriors.
- :class:`SVIRunner`: stochastic variational inference with Pyro guides.
- :class:`NUTSRunner`: Hamiltonian Monte Carlo with NUTS, with per-draw statistics.
- :func:`to_inference_data`: the single conversion to ``arviz.InferenceData``.
- :mod:`probex.inference.shapley_design` / :mod:`probex.inference.shapley`: the stratified
  paired coalition design and the efficiency-exact Shapley estimate with jackknife
  uncertainty (:func:`estimate_shapley`).
"""

from probex.inference.draws import PosteriorDraws
from probex.inference.exact import NormalInverseGammaPosterior
from probex.inference.idata import to_inference_data
from probex.inference.nuts import NUTSRunner
from probex.inference.shapley import (
    ShapleyFit,
    ShapleyPosterior,
    estimate_shapley,
    shapley_posterior,
)
from probex.inference.shapley_design import (
    CoalitionDesign,
    StratumAllocation,
    allocate_strata,
    shapley_design,
)
from probex.inference.svi import SVIRunner

__all__ = [
    "PosteriorDraws",
    "NormalInverseGammaPosterior",
    "NUTSRunner",
    "CoalitionDesign",
    "StratumAllocation",
    "ShapleyFit",
    "ShapleyPosterior",
    "allocate_strata",
    "estimate_shapley",
    "shapley_design",
    "shapley_posterior",
    "SVIRunner",
    "to_inference_data",
]
