"""Offline data: scikit-learn's bundled sets and synthetic sets with known ground truth."""

from probex.datasets.bundled import TabularData, fit_demo_model, load_tabular
from probex.datasets.networks import MLP, DigitsCNN, fit_network, train_classifier
from probex.datasets.panels import PanelData, make_switching_panels
from probex.datasets.synthetic import SelectionData, make_synthetic, synthetic_probability

__all__ = ["TabularData", "load_tabular", "fit_demo_model", "MLP", "DigitsCNN", "fit_network",
           "train_classifier", "SelectionData", "make_synthetic", "synthetic_probability",
           "PanelData", "make_switching_panels"]
