"""Explanation methods: each wires a perturbation scheme, a model and an inference path."""

from probex.explainers.bayeslime import BayesLIME, BayesSHAP

__all__ = ["BayesLIME", "BayesSHAP"]
from probex.explainers.clime import CLIME  # noqa: E402
from probex.explainers.smoothgrad import SmoothGrad  # noqa: E402

__all__ += ["SmoothGrad", "CLIME"]
