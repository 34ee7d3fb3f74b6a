"""LEX's configurations: every modelling and training choice, and the named special cases.

:class:`LEXConfig` holds the choices; :data:`CONFIGURATIONS` names LEX (Senetaire et al.,
ICML 2023) and the methods it contains as special cases (L2X, INVASE, REAL-X; Table 1 of
the paper). :func:`resolve_config` turns a name or configuration and keyword overrides
into the checked configuration; :func:`build_lex_model` turns a configuration into the
Pyro program of :mod:`probex.models.lex`. The gradient estimators named here live in
:mod:`probex.inference.selection_estimators`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from probex._checks import check_choice
from probex.models.imputation import IMPUTATIONS, make_imputation
from probex.models.lex import BlackBoxPredictor, LEXModel, LogSoftmax
from probex.models.networks import MLP
from probex.models.selectors import FAMILIES, UNIT_DRAWS, ConvSelectorNet, MaskSelector
from probex.perturb.groups import FeatureGroups

__all__ = ["LEXConfig", "CONFIGURATIONS", "ESTIMATORS", "BASELINES", "PREDICTORS",
           "resolve_config", "build_lex_model", "mask_units"]

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
        mask_units: ``None`` (one mask unit per feature) or groups of features selected
            together (:class:`~probex.perturb.FeatureGroups`, d integer ids or a list of
            index lists; e.g. ``FeatureGroups.image_patches(8, 16, 4)``): the selector's
            logits are averaged within each unit, so a unit's features share one
            inclusion probability and the reported selection takes whole units; the
            sparsity penalty stays per feature (Bernoulli selectors only).
        unit_draws: with ``mask_units``, training masks are drawn per feature with the
            unit's probability (``"feature"``, default) or once per unit (``"unit"``: the
            whole unit kept or dropped). On reduced Switching Panels (4x4 patches, 3
            seeds) per-feature draws learnt the target side every time (side accuracy
            0.87-0.90, FDR 0.00-0.23); per-unit draws twice (0.90, 0.95; FDR 0.19, 0.04)
            and once settled on one patch per side (FDR 0.5).
        initial_inclusion: ``None`` (the network's own initialisation) or pi_0 in (0, 1):
            the selector's last layer starts with its weights scaled by 0.1 and its bias
            at logit(pi_0), so every feature starts selected with probability about pi_0.
            Starting low (0.1) keeps the sparsity penalty from shrinking every unit
            before the informative ones have shown their value (Bernoulli only).
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
    mask_units: object = None
    unit_draws: str = "feature"
    initial_inclusion: float | None = None

    def __post_init__(self):
        check_choice("selector", self.selector, FAMILIES)
        check_choice("estimator", self.estimator, ESTIMATORS)
        check_choice("baseline", self.baseline, BASELINES)
        check_choice("imputation", self.imputation, IMPUTATIONS)
        check_choice("predictor", self.predictor, PREDICTORS)
        check_choice("selector_network", self.selector_network, ("mlp", "cnn"))
        check_choice("unit_draws", self.unit_draws, UNIT_DRAWS)
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
        if self.initial_inclusion is not None and not 0 < self.initial_inclusion < 1:
            raise ValueError(f"initial_inclusion must be in (0, 1), got "
                             f"{self.initial_inclusion!r}")
        if self.selector != "bernoulli" and (self.mask_units is not None
                                             or self.initial_inclusion is not None):
            raise ValueError("mask_units and initial_inclusion apply to the Bernoulli "
                             "selector (selector='bernoulli')")
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


def resolve_config(config: str | LEXConfig, overrides: dict) -> LEXConfig:
    """The configuration named ``config`` (a key of :data:`CONFIGURATIONS`) or given as a
    :class:`LEXConfig`, with the fields in ``overrides`` replaced; unknown fields, and a
    subset selector without k, are refused."""
    if isinstance(config, str):
        check_choice("config", config, tuple(CONFIGURATIONS))
        config = CONFIGURATIONS[config]
    elif not isinstance(config, LEXConfig):
        raise TypeError("config must be a configuration name or a LEXConfig")
    fields = {f.name for f in dataclasses.fields(LEXConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown LEX option(s) {unknown}; options are {sorted(fields)}")
    config = dataclasses.replace(config, **overrides)
    if config.selector == "subset" and config.k is None:
        raise ValueError("selector='subset' needs k, the number of features to draw "
                         f"(e.g. LEX({config.name!r}, k=4))")
    return config


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
    if c.initial_inclusion is not None:
        _start_at(network, c.initial_inclusion)
    selector = MaskSelector(network, c.selector, c.k, units=mask_units(c, d),
                            unit_draws=c.unit_draws)
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


def mask_units(config: LEXConfig, n_features: int) -> FeatureGroups | None:
    """The configuration's mask units for d features (``None``: one per feature)."""
    units = config.mask_units
    if units is None:
        return None
    units = units if isinstance(units, FeatureGroups) else FeatureGroups(units, n_features)
    if units.n_features != n_features:
        raise ValueError(f"mask_units cover {units.n_features} features, X has {n_features}")
    return units


def _start_at(network: torch.nn.Module, inclusion: float) -> None:
    """Scale the last linear or convolutional layer's weights by 0.1 and set its bias to
    logit(inclusion): every feature starts selected with probability about ``inclusion``."""
    layers = [m for m in network.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    if not layers or layers[-1].bias is None:
        raise ValueError("initial_inclusion needs a selector network whose last layer is a "
                         "linear or convolutional layer with a bias")
    with torch.no_grad():
        layers[-1].weight.mul_(0.1)
        layers[-1].bias.fill_(math.log(inclusion / (1.0 - inclusion)))
