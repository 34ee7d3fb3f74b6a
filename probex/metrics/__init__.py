"""Evaluation metrics for explanations, one submodule per family."""

from probex.metrics.calibration import (
    calibration_by_level,
    kl_calibration_error,
    predictive_power_decomposition,
    top_label_ece,
)
from probex.metrics.coverage import interval_coverage

__all__ = ["interval_coverage"]
__all__ += ["kl_calibration_error", "top_label_ece", "calibration_by_level",
            "predictive_power_decomposition"]
