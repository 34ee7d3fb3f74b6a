"""Explanation methods: each wires a perturbation scheme, a model and an inference path."""

from probex.explainers.bayeslime import BayesLIME, BayesSHAP
from probex.explainers.lex import LEX, LEXConfig

__all__ = ["BayesLIME", "BayesSHAP", "LEX", "LEXConfig"]
