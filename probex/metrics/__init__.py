"""Evaluation metrics for explanations, one submodule per family."""

from probex.metrics.coverage import interval_coverage
from probex.metrics.selection import (
    false_discovery_rate,
    selected_feature_accuracy,
    selection_f1,
    selection_report,
    true_positive_rate,
)

__all__ = ["interval_coverage", "true_positive_rate", "false_discovery_rate", "selection_f1",
           "selection_report", "selected_feature_accuracy"]
