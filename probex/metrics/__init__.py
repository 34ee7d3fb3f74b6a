"""Evaluation metrics for explanations, one submodule per family."""

from probex.metrics.coverage import interval_coverage

__all__ = ["interval_coverage"]
