"""LEX's configurations: every modelling and training choice, and the named special cases.

:class:`LEXConfig` holds the choices; :data:`CONFIGURATIONS` names LEX (Senetaire et al.,
ICML 2023) and the methods it contains as special cases (L2X, INVASE, REAL-X; Table 1 of
the paper). :func:`build_lex_model` turns a configuration into the Pyro program of
:mod:`probex.models.lex`. The gradient estimators named here live in
:mod:`probex.inference.selection_estimators`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from probex._checks import check_choice
from probex.models.imputation import IMPUTATIONS, make_imputation
from probex.models.lex import BlackBoxPredictor, LEXModel, LogSoftmax
from probex.models.networks import MLP
from probex.models.selectors import FAMILIES, ConvSelectorNet, MaskSelector

__all__ = ["LEXConfig", "CONFIGURATIONS", "ESTIMATORS", "BASELINES", "PREDICTORS",
           "build_lex_model"]

#: Gradient estimators of LEX's objective (:mod:`probex.inference.selection_estimators`).
ESTIMATORS = ("reinforce", "relaxed")
#: REINFORCE control variates (:mod:`probex.inference.selection_estimators`).
BASELINES = ("loo", "average", "network", "full_input", "none")
#: Predictor kinds: fixed black box, trained jointly, EVAL-X, or chosen from the targets.
PREDICTORS = ("auto", "fixed", "joint", "evalx")


@dataclass(frozen=True)
class LEXConfig:
    """Every modelling and training choice of LEX.

    Attributes:
        name: label recorded in explanations.
        selector: ``"bernoulli"`` (independent z_j ~ Bernoulli(pi_j(x))) or ``"subset"``
            (L2X's union of ``k`` categorical draws).
        k: features drawn by the subset selector (required for ``"subset"``).
        estimator: ``"reinforce"`` (score function with a baseline) or ``"relaxed"``
            (Gumbel-softmax / Concrete masks, pathwise gradients).
        baseline: REINFORCE control variate: ``"loo"`` (leave-one-out over the
            ``n_masks`` masks), ``"average"``, ``"network"``, ``"full_input"`` (INVASE),
            ``"none"``.
        n_masks: L, masks drawn per instance and step.
        temperature, straight_through: of the relaxed masks.
        imputation: ``"zero"``, ``"mean"``, ``"marginal"``, ``"gaussian"`` (conditional
            of a Gaussian fitted on the training rows), ``"gmm"`` (of a Gaussian mixture
            with ``n_components``), ``"factor"`` (of a factor-analysis Gaussian with
            ``rank`` factors: the fast choice for many features, e.g. images) or
            ``"factor_mixture"`` (of ``n_components`` such factor analysers).
        n_imputations: M, imputations per mask (stochastic imputations).
        predictor: ``"fixed"`` (the black box given to ``fit`` is p_theta: post hoc),
            ``"joint"`` (a network trained with the selector: in situ, or a surrogate of
            the black box), ``"evalx"`` (a network fitted on random masks, then frozen),
            ``"auto"`` (fixed when ``fit`` gets a black box, joint when it gets labels).
        pretrain_epochs, pretrain_mask_rate: epochs of fitting a network predictor on
            masks z_j ~ Bernoulli(rate) drawn independently of x before the selector
            phase (EVAL-X; required for ``"evalx"``, a warm start for ``"joint"``, which
            keeps training afterwards).
        sparsity: lambda, penalty per expected selected feature in nats (Bernoulli).
        selector_network: ``"mlp"`` (ReLU MLP of widths ``selector_hidden``) or ``"cnn"``
            (:class:`~probex.models.selectors.ConvSelectorNet` for rows that are images of
            ``image_shape`` (height, width)).
        selector_hidden, predictor_hidden, baseline_hidden: ReLU MLP widths.
        learning_rate, batch_size: Adam step size and minibatch size.
    """

    name: str = "lex"
    selector: str = "bernoulli"
    k: int | None = None
    estimator: str = "reinforce"
    baseline: str = "loo"
    n_masks: int = 4
    temperature: float = 0.5
    straight_through: bool = True
    imputation: str = "gaussian"
    n_components: int = 3
    rank: int = 16
    n_imputations: int = 4
    predictor: str = "auto"
    pretrain_epochs: int = 0
    pretrain_mask_rate: float = 0.5
    sparsity: float = 0.02
    selector_network: str = "mlp"
    image_shape: tuple | None = None
    selector_hidden: tuple = (64, 64)
    predictor_hidden: tuple = (64, 64)
    baseline_hidden: tuple = (32,)
    learning_rate: float = 1e-3
    batch_size: int = 64

    def __post_init__(self):
        check_choice("selector", self.selector, FAMILIES)
        check_choice("estimator", self.estimator, ESTIMATORS)
        check_choice("baseline", self.baseline, BASELINES)
        check_choice("imputation", self.imputation, IMPUTATIONS)
        check_choice("predictor", self.predictor, PREDICTORS)
        check_choice("selector_network", self.selector_network, ("mlp", "cnn"))
        if self.selector_network == "cnn" and self.image_shape is None:
            raise ValueError("selector_network='cnn' needs image_shape=(height, width)")
        if self.k is not None and int(self.k) < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")
        for name in ("n_masks", "n_imputations", "n_components", "rank", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got "
                                 f"{getattr(self, name)!r}")
        if self.estimator == "reinforce" and self.baseline == "loo" and self.n_masks < 2:
            raise ValueError("baseline='loo' needs n_masks >= 2 (or choose another baseline)")
        if not (self.sparsity >= 0 and math.isfinite(self.sparsity)):
            raise ValueError(f"sparsity must be a finite non-negative number, got "
                             f"{self.sparsity!r}")
        if not self.temperature > 0 or not self.learning_rate > 0:
            raise ValueError("temperature and learning_rate must be positive")
        if int(self.pretrain_epochs) < 0:
            raise ValueError("pretrain_epochs must be >= 0")
        if self.predictor == "evalx" and int(self.pretrain_epochs) < 1:
            raise ValueError("predictor='evalx' is fitted on random masks first: give "
                             "pretrain_epochs >= 1")


#: The special cases of LEX, as configurations (Senetaire et al., 2023, Table 1).
CONFIGURATIONS = {
    # LEX's recommendation: multiple imputation from a conditional model, post hoc.
    "lex": LEXConfig(),
    # L2X (Chen et al., 2018): k-subset selector relaxed with Gumbel-softmax (tau = 0.1),
    # zero imputation, a predictor (their variational family) trained jointly on the
    # black box's outputs; no sparsity penalty: k fixes the size.
    "l2x": LEXConfig(name="l2x", selector="subset", estimator="relaxed", temperature=0.1,
                     straight_through=False, baseline="none", n_masks=1, imputation="zero",
                     n_imputations=1, predictor="joint", sparsity=0.0),
    # INVASE (Yoon et al., 2019): independent Bernoulli selector (actor) trained by
    # REINFORCE with a baseline network on the full input, zero imputation, a predictor
    # (critic) trained jointly on the selected features, L1 penalty on pi(x). INVASE's
    # lambda = 0.1 multiplies the mean of pi over d features: 0.1 / d per feature, 0.01
    # for its d = 10 sets; here lambda is per feature.
    "invase": LEXConfig(name="invase", selector="bernoulli", estimator="reinforce",
                        baseline="full_input", n_masks=1, imputation="zero", n_imputations=1,
                        predictor="joint", sparsity=0.01),
    # REAL-X (Jethani et al., 2021): the predictor EVAL-X is fitted first on uniformly
    # random masks (rate 0.5, zero imputation) and frozen; the Bernoulli selector is then
    # trained against it (REBAR in the paper; REINFORCE with a leave-one-out baseline
    # here: the same objective, another variance reduction).
    "realx": LEXConfig(name="realx", selector="bernoulli", estimator="reinforce",
                       baseline="loo", n_masks=4, imputation="zero", n_imputations=1,
                       predictor="evalx", pretrain_epochs=10, sparsity=0.01),
}


def build_lex_model(config: LEXConfig, X: torch.Tensor, n_classes: int, black_box=None,
                    seed: int = 0) -> LEXModel:
    """The LEX program of ``config`` for training rows X (n, d) and ``n_classes`` classes.

    Args:
        black_box: the fixed predictor p_theta (post hoc LEX): an object with
            ``log_probabilities`` (e.g. :class:`probex.BlackBox`); ``None`` builds a
            network predictor (joint or EVAL-X).
        seed: of the imputation's fit (network initialisation draws from torch's global
            RNG, which the caller seeds).
    """
    c, d = config, X.shape[1]
    if c.selector_network == "cnn":
        if int(np.prod(c.image_shape)) != d:
            raise ValueError(f"image_shape {tuple(c.image_shape)} does not match the {d} "
                             "features of X")
        network = ConvSelectorNet(tuple(c.image_shape))
    else:
        network = MLP(d, d, tuple(c.selector_hidden))
    selector = MaskSelector(network, c.selector, c.k)
    if black_box is not None:
        n_features = getattr(black_box, "n_features", None)
        if n_features is not None and n_features != d:
            raise ValueError(f"the black box expects {n_features} features, X has {d}")
        predictor = BlackBoxPredictor(black_box, differentiable=c.estimator == "relaxed")
    else:
        predictor = LogSoftmax(MLP(d, n_classes, tuple(c.predictor_hidden)))
    imputation = make_imputation(c.imputation, X.cpu(), n_components=c.n_components,
                                 rank=c.rank, seed=seed)
    return LEXModel(selector, predictor, imputation, n_imputations=c.n_imputations,
                    sparsity=c.sparsity, relaxed=c.estimator == "relaxed",
                    temperature=c.temperature, straight_through=c.straight_through)
