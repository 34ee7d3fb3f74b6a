"""Evaluation metrics for explanations, one submodule per family."""

from probex.metrics.calibration import (
    calibration_by_level,
    kl_calibration_error,
    predictive_power_decomposition,
    top_label_ece,
)
from probex.metrics.coverage import interval_coverage
from probex.metrics.faithfulness import (
    PerturbationCurve,
    deletion_auc,
    insertion_auc,
    perturbation_curve,
    random_attributions,
    random_reference,
)
from probex.metrics.sample_quality import (
    design_log_determinant,
    mean_locality_weight,
    sample_quality,
)
from probex.metrics.selection import (
    false_discovery_rate,
    selected_feature_accuracy,
    selection_f1,
    selection_report,
    true_positive_rate,
)
from probex.metrics.stability import (
    kendall_tau_reproducibility,
    neighbourhood_stability,
    reproducibility,
    top_k_jaccard,
)

__all__ = [
    "interval_coverage",
    "kendall_tau_reproducibility", "top_k_jaccard", "reproducibility",
    "neighbourhood_stability", "mean_locality_weight", "design_log_determinant",
    "sample_quality",
    "kl_calibration_error", "top_label_ece", "calibration_by_level",
    "predictive_power_decomposition",
    "true_positive_rate", "false_discovery_rate", "selection_f1", "selection_report",
    "selected_feature_accuracy",
    "PerturbationCurve", "perturbation_curve", "deletion_auc", "insertion_auc",
    "random_attributions", "random_reference",
]
