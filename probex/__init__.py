"""probex: post-hoc model explanations as probabilistic programs.

Every explanation is a posterior: latent explanation variables are inferred from queries
to a black box, by exact conjugate formulas, SVI or NUTS, and reported with ArviZ.

    import probex as px
    bb = px.BlackBox(model, task="classification", target=1)
    e = px.BayesLIME(bb, background=X_train, seed=0).explain(x, n_samples=1000)
    e.mean, e.sd, e.hdi(0.95), e.summary(), e.plot(), e.to_netcdf("e.nc")
"""

__version__ = "0.1.0"

from probex import inference, perturb, priors  # noqa: E402
from probex.blackbox import BlackBox, as_blackbox  # noqa: E402
from probex.explainers import BayesLIME, BayesSHAP  # noqa: E402
from probex.explainers.fex import FEX  # noqa: E402
from probex.explainers.rise import RISE  # noqa: E402
from probex.explanation import Explanation  # noqa: E402

__all__ = [
    "__version__",
    "BlackBox",
    "as_blackbox",
    "BayesLIME",
    "BayesSHAP",
    "Explanation",
    "inference",
    "perturb",
    "priors",
    "FEX",
    "RISE",
]
