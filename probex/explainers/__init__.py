"""Explanation methods: each wires a perturbation scheme, a model and an inference path.

Every method derives from :class:`Explainer`: :class:`LocalExplainer` (queries per
instance: BayesLIME, BayesSHAP, EAGLE, CLIME, SmoothGrad, RISE) or
:class:`AmortizedExplainer` (fit once, explain by a forward pass: LEX, FEX). ReCalX is a
calibrated :class:`~probex.BlackBox` built on the same conventions. :data:`METHODS`
lists them all by name.
"""

from probex.explainers._base import AmortizedExplainer, Explainer, LocalExplainer
from probex.explainers.bayeslime import BayesLIME
from probex.explainers.bayesshap import BayesSHAP
from probex.explainers.clime import CLIME
from probex.explainers.eagle import EAGLE
from probex.explainers.fex import FEX
from probex.explainers.lex import LEX, LEXConfig
from probex.explainers.recalx import ReCalX, TemperatureScaledBlackBox, TemperatureScaling
from probex.explainers.registry import METHODS, make_explainer, method_names
from probex.explainers.rise import RISE
from probex.explainers.smoothgrad import SmoothGrad

__all__ = ["Explainer", "LocalExplainer", "AmortizedExplainer", "METHODS", "make_explainer",
           "method_names", "BayesLIME", "BayesSHAP", "CLIME", "EAGLE", "FEX", "LEX",
           "LEXConfig", "ReCalX", "TemperatureScaledBlackBox", "TemperatureScaling", "RISE",
           "SmoothGrad"]
