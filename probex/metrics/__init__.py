"""Evaluation metrics for explanations, one submodule per family."""

from probex.metrics.coverage import interval_coverage

__all__ = ["interval_coverage"]
from probex.metrics.sample_quality import (  # noqa: E402
    design_log_determinant,
    mean_locality_weight,
    sample_quality,
)
from probex.metrics.stability import (  # noqa: E402
    kendall_tau_reproducibility,
    neighbourhood_stability,
    reproducibility,
    top_k_jaccard,
)

__all__ += ["kendall_tau_reproducibility", "top_k_jaccard", "reproducibility",
            "neighbourhood_stability", "mean_locality_weight", "design_log_determinant",
            "sample_quality"]
