"""The statistician's workflow around an explanation: compare priors by their predictive
fit (PSIS-LOO), check how much the attributions depend on the prior.

- :func:`compare_priors` -> :class:`PriorComparison` (``az.compare``'s table, each
  prior's explanation, a side-by-side plot);
- :func:`prior_sensitivity` -> :class:`PriorSensitivity` (per-feature movement of the
  posterior mean and interval across priors or prior scales, a table and a plot);
- :func:`explain_with_priors`: the explanations themselves, all fitted to one set of
  queries.

The model-checking groups these rest on (``log_likelihood``, ``posterior_predictive``,
``prior``, ``prior_predictive``) are built by the explainers; see
:class:`probex.explainers._surrogate.SurrogateExplainer` (``predictive``,
``prior_predictive``).
"""

from probex.workflow.compare import PriorComparison, attribution_table, compare_priors
from probex.workflow.refit import explain_with_priors
from probex.workflow.sensitivity import SHIFT_IN_SD, PriorSensitivity, prior_sensitivity

__all__ = ["compare_priors", "PriorComparison", "prior_sensitivity", "PriorSensitivity",
           "explain_with_priors", "attribution_table", "SHIFT_IN_SD"]
