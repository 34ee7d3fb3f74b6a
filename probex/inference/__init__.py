"""How posteriors are computed, independently of any explanation method.

- :mod:`probex.inference.exact`: closed-form conjugate posteriors.
- :class:`SVIRunner`: stochastic variational inference with Pyro guides.
- :class:`NUTSRunner`: Hamiltonian Monte Carlo with NUTS, with per-draw statistics.
- :func:`to_inference_data`: the single conversion to ``arviz.InferenceData``.
"""

from probex.inference.draws import PosteriorDraws
from probex.inference.exact import NormalInverseGammaPosterior
from probex.inference.idata import to_inference_data
from probex.inference.nuts import NUTSRunner
from probex.inference.svi import SVIRunner

__all__ = [
    "PosteriorDraws",
    "NormalInverseGammaPosterior",
    "NUTSRunner",
    "SVIRunner",
    "to_inference_data",
]
