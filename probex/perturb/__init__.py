"""Perturbations: how explainers query a model around an instance.

- :mod:`probex.perturb.schemes`: perturbation schemes (Gaussian noise, binary masks),
  their interpretable representations, model inputs, locality kernels and levels.
- :mod:`probex.perturb.levels`: perturbed copies of labelled samples at controlled
  perturbation levels (ReCalX's calibration data and its evaluation).
- :mod:`probex.perturb.groups`: :class:`FeatureGroups`, a partition of the features into
  mask units (image patches, feature groups).
"""

from probex.perturb.groups import FeatureGroups
from probex.perturb.levels import (
    LevelPerturbations,
    check_labels,
    check_level_data_size,
    level_data_bytes,
    perturb_by_level,
    resolve_scheme,
)
from probex.perturb.schemes import (
    GaussianPerturbation,
    MaskPerturbation,
    Perturbation,
    PerturbationSet,
    default_kernel_width,
    lime_kernel,
    make_perturbation,
    shapley_kernel,
)

__all__ = [
    "PerturbationSet",
    "Perturbation",
    "GaussianPerturbation",
    "MaskPerturbation",
    "lime_kernel",
    "shapley_kernel",
    "default_kernel_width",
    "make_perturbation",
    "FeatureGroups",
    "LevelPerturbations",
    "perturb_by_level",
    "check_labels",
    "resolve_scheme",
    "level_data_bytes",
    "check_level_data_size",
]
