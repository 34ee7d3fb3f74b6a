"""Explanation methods: each wires a perturbation scheme, a model and an inference path."""

from probex.explainers.bayeslime import BayesLIME, BayesSHAP
from probex.explainers.fex import FEX
from probex.explainers.rise import RISE

__all__ = ["BayesLIME", "BayesSHAP"]
__all__ += ["FEX", "RISE"]
