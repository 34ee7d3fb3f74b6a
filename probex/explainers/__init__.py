"""Explanation methods: each wires a perturbation scheme, a model and an inference path."""

from probex.explainers.bayeslime import BayesLIME, BayesSHAP
from probex.explainers.clime import CLIME
from probex.explainers.eagle import EAGLE
from probex.explainers.fex import FEX
from probex.explainers.lex import LEX, LEXConfig
from probex.explainers.recalx import ReCalX, TemperatureScaledBlackBox, TemperatureScaling
from probex.explainers.rise import RISE
from probex.explainers.smoothgrad import SmoothGrad

__all__ = ["BayesLIME", "BayesSHAP", "CLIME", "EAGLE", "FEX", "LEX", "LEXConfig", "ReCalX",
           "TemperatureScaledBlackBox", "TemperatureScaling", "RISE", "SmoothGrad"]
