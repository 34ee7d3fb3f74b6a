"""Evaluation metrics for explanations, one submodule per family."""

from probex.metrics.coverage import interval_coverage
from probex.metrics.faithfulness import (
    PerturbationCurve,
    deletion_auc,
    insertion_auc,
    perturbation_curve,
    random_attributions,
    random_reference,
)

__all__ = ["interval_coverage"]
__all__ += ["PerturbationCurve", "perturbation_curve", "deletion_auc", "insertion_auc",
            "random_attributions", "random_reference"]
