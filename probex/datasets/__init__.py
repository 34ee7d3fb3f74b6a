"""Offline data: scikit-learn's bundled sets and synthetic sets with known ground truth."""

from probex.datasets.bundled import TabularData, fit_demo_model, load_tabular
from probex.datasets.networks import MLP, DigitsCNN, fit_network, train_classifier

__all__ = ["TabularData", "load_tabular", "fit_demo_model", "MLP", "DigitsCNN", "fit_network",
           "train_classifier"]
