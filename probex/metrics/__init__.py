"""Evaluation metrics for explanations, one submodule per family."""

from probex.metrics.calibration import (
    calibration_by_level,
    kl_calibration_error,
    top_label_ece,
)
from probex.metrics.calibration_by_perturbation import perturbed_calibration
from probex.metrics.coverage import (
    interval_coverage,
    mean_squared_z,
    pit_from_draws,
    pit_histogram,
    pit_uniformity_pvalue,
    pit_values,
    z_scores,
)
from probex.metrics.faithfulness import (
    PerturbationCurve,
    deletion_auc,
    insertion_auc,
    perturbation_curve,
    random_attributions,
    random_reference,
)
from probex.metrics.ground_truth import (
    MaskedGame,
    ShapleyTruth,
    SurrogateTarget,
    coalition_masks,
    exact_shapley_values,
    lime_mask_target,
    lime_mask_target_from_game,
    masked_game,
    shapley_from_game,
)
from probex.metrics.monte_carlo_truth import (
    MonteCarloTruth,
    smoothgrad_truth,
    surrogate_target_monte_carlo,
)
from probex.metrics.pit_plot import plot_pit_histogram
from probex.metrics.predictive_power import predictive_power_decomposition
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
    "interval_coverage", "z_scores", "mean_squared_z", "pit_values", "pit_from_draws",
    "pit_histogram", "pit_uniformity_pvalue", "plot_pit_histogram",
    "MaskedGame", "ShapleyTruth", "SurrogateTarget", "MonteCarloTruth", "coalition_masks",
    "masked_game", "shapley_from_game", "exact_shapley_values", "lime_mask_target_from_game",
    "lime_mask_target", "smoothgrad_truth", "surrogate_target_monte_carlo",
    "kendall_tau_reproducibility", "top_k_jaccard", "reproducibility",
    "neighbourhood_stability", "mean_locality_weight", "design_log_determinant",
    "sample_quality",
    "kl_calibration_error", "top_label_ece", "calibration_by_level",
    "predictive_power_decomposition", "perturbed_calibration",
    "true_positive_rate", "false_discovery_rate", "selection_f1", "selection_report",
    "selected_feature_accuracy",
    "PerturbationCurve", "perturbation_curve", "deletion_auc", "insertion_auc",
    "random_attributions", "random_reference",
]
