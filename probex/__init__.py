"""probex: post-hoc model explanations as probabilistic programs.

Every explanation is a posterior: latent explanation variables are inferred from queries
to a black box, by exact conjugate formulas, SVI or NUTS, and reported with ArviZ.

    import probex as px
    bb = px.BlackBox(model, task="classification", target=1)
    e = px.BayesLIME(bb, background=X_train, seed=0).explain(x, n_samples=1000)
    e.mean, e.sd, e.hdi(0.95), e.summary(), e.plot(), e.to_netcdf("e.nc")

Methods: BayesLIME and BayesSHAP (Bayesian local surrogates), EAGLE (perturbations chosen
by expected information gain), SmoothGrad and CLIME (gradient smoothing and continuous
LIME), ReCalX (recalibration under explanation perturbations), LEX (latent selection
masks with imputation; L2X, INVASE and REAL-X as configurations), FEX (amortized mask
policy) and RISE (random-mask saliency).
"""

import logging as _logging

from probex import inference, perturb, priors  # noqa: E402
from probex._version import __version__
from probex.blackbox import BlackBox, as_blackbox  # noqa: E402
from probex.diagnostics import (  # noqa: E402
    ConvergenceWarning,
    DataWarning,
    FidelityWarning,
    ProbexWarning,
    SamplingWarning,
)
from probex.engine import DatasetExplanation, explain_dataset  # noqa: E402
from probex.explainers import (  # noqa: E402
    CLIME,
    EAGLE,
    FEX,
    LEX,
    METHODS,
    RISE,
    BayesLIME,
    BayesSHAP,
    ReCalX,
    SmoothGrad,
)
from probex.explanation import Explanation  # noqa: E402
from probex.workflow import compare_priors, prior_sensitivity  # noqa: E402

_logging.getLogger("probex").addHandler(_logging.NullHandler())  # the application decides

__all__ = [
    "__version__",
    "BlackBox",
    "as_blackbox",
    "Explanation",
    "explain_dataset",
    "DatasetExplanation",
    "BayesLIME",
    "BayesSHAP",
    "EAGLE",
    "SmoothGrad",
    "CLIME",
    "ReCalX",
    "LEX",
    "FEX",
    "RISE",
    "ProbexWarning",
    "SamplingWarning",
    "ConvergenceWarning",
    "DataWarning",
    "FidelityWarning",
    "METHODS",
    "compare_priors",
    "prior_sensitivity",
    "inference",
    "perturb",
    "priors",
]
