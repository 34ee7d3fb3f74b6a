"""Every explanation method under one name: the door a new method comes in through.

The command line (``probex explain --method NAME``), the contract tests and
:func:`make_explainer` all read :data:`METHODS`. A new method is a class deriving from
:class:`~probex.explainers.LocalExplainer` or :class:`~probex.explainers.AmortizedExplainer`
plus one entry here.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from probex.explainers._base import Explainer
from probex.explainers.bayeslime import BayesLIME
from probex.explainers.bayesshap import BayesSHAP
from probex.explainers.clime import CLIME
from probex.explainers.eagle import EAGLE
from probex.explainers.fex import FEX
from probex.explainers.lex import LEX
from probex.explainers.rise import RISE
from probex.explainers.smoothgrad import SmoothGrad

__all__ = ["MethodSpec", "METHODS", "method_names", "make_explainer"]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    Attributes:
        name: the command-line name (lower case).
        cls: the explainer class.
        family: ``"local"`` (queries per instance) or ``"amortized"`` (fit, then a
            forward pass).
        summary: one line for ``--help``.
        needs_gradients: whether the model must be differentiable (torch).
        classifier_only: whether the model must be a classifier.
    """

    name: str
    cls: type
    family: str
    summary: str
    needs_gradients: bool = False
    classifier_only: bool = False


METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in (
    MethodSpec("bayeslime", BayesLIME, "local",
               "Bayesian LIME: posterior of a locally weighted linear surrogate"),
    MethodSpec("bayesshap", BayesSHAP, "local",
               "Bayesian KernelSHAP: the surrogate on coalitions with the Shapley kernel"),
    MethodSpec("eagle", EAGLE, "local",
               "the surrogate with perturbations chosen by expected information gain"),
    MethodSpec("clime", CLIME, "local",
               "continuous LIME: the surrogate on isotropic Gaussian perturbations"),
    MethodSpec("smoothgrad", SmoothGrad, "local",
               "SmoothGrad: mean gradient under Gaussian noise, with its Monte Carlo error",
               needs_gradients=True),
    MethodSpec("rise", RISE, "local", "RISE: random-mask saliency with its Monte Carlo error",
               classifier_only=True),
    MethodSpec("lex", LEX, "amortized",
               "LEX: a selector p(z | x) fitted by maximum likelihood with imputation",
               classifier_only=True),
    MethodSpec("fex", FEX, "amortized",
               "FEX: a mask policy trained by policy gradient, one forward pass per row",
               classifier_only=True),
)}


def method_names(family: str | None = None, *, gradients: bool | None = None) -> list[str]:
    """Registered names, optionally of one family, or only those that do (not) need
    gradients."""
    return [name for name, spec in METHODS.items()
            if (family is None or spec.family == family)
            and (gradients is None or spec.needs_gradients == gradients)]


def make_explainer(name: str, model, *, background=None, **options) -> Explainer:
    """Build the registered method ``name`` for ``model`` (a BlackBox or a model).

    ``background`` goes to the methods that take reference data; ``options`` are the
    class's own keyword arguments (``seed=``, ``inference=``, ...).
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
    cls = METHODS[name].cls
    parameters = inspect.signature(cls.__init__).parameters
    if "background" in parameters:
        options["background"] = background
    return cls(model, **options)
