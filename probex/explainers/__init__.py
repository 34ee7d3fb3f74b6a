"""Explanation methods: each wires a perturbation scheme, a model and an inference path."""

from probex.explainers.bayeslime import BayesLIME, BayesSHAP

__all__ = ["BayesLIME", "BayesSHAP"]
