"""Explanation methods: each wires a perturbation scheme, a model and an inference path."""

from probex.explainers.bayeslime import BayesLIME, BayesSHAP
from probex.explainers.recalx import ReCalX, TemperatureScaledBlackBox, TemperatureScaling

__all__ = ["BayesLIME", "BayesSHAP"]
__all__ += ["ReCalX", "TemperatureScaledBlackBox", "TemperatureScaling"]
