"""LEX (Senetaire et al., "Explainability as statistical inference", ICML 2023) and the
methods it contains as special cases: L2X, INVASE and REAL-X.

:class:`LEX` wires the Pyro model of :mod:`probex.models.lex` (selector, imputation,
predictor) to a gradient estimator (:mod:`probex.models.lex_estimators`) and a torch
optimiser. After :meth:`LEX.fit`, :meth:`LEX.explain` is amortized: one forward pass of
the selector gives every instance's selection probabilities.

Named configurations (``LEX("l2x", k=4)``; any field of :class:`LEXConfig` can be
overridden by keyword):

=========  ===========  =================  ==========  ==========================
name       selector     estimator          imputation  predictor
=========  ===========  =================  ==========  ==========================
``lex``    Bernoulli    REINFORCE, LOO     Gaussian    fixed black box (post hoc)
                        baseline, L = 4    (multiple)  or joint (given labels)
``l2x``    k-subset     relaxed subset     zero        joint (the variational
                        (tau = 0.1)                    family q, in situ)
``invase`` Bernoulli    REINFORCE, full-   zero        joint (the critic)
                        input baseline
``realx``  Bernoulli    REINFORCE, LOO     zero        EVAL-X: fitted on random
                        baseline                       masks, then frozen
=========  ===========  =================  ==========  ==========================
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from probex._checks import as_matrix, check_choice, feature_names_or_default, resolve_device
from probex.blackbox import BlackBox, as_blackbox
from probex.checkpoint import Checkpointer
from probex.explanation import Explanation
from probex.inference._runtime import progress_bar, seeded
from probex.models.imputation import IMPUTATIONS, make_imputation
from probex.models.lex import BlackBoxPredictor, LEXModel, LogSoftmax
from probex.models.lex_estimators import (
    BASELINES,
    ESTIMATORS,
    lex_loss,
    make_baseline,
    random_mask_loss,
)
from probex.models.selectors import FAMILIES, ConvSelectorNet, MaskSelector

__all__ = ["LEX", "LEXConfig", "CONFIGURATIONS"]

_PREDICTORS = ("auto", "fixed", "joint", "evalx")


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
        check_choice("predictor", self.predictor, _PREDICTORS)
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


class LEX:
    """Instance-wise feature selection as maximum likelihood with a latent mask.

    Args:
        config: a name in :data:`CONFIGURATIONS` (``"lex"``, ``"l2x"``, ``"invase"``,
            ``"realx"``) or a :class:`LEXConfig`.
        seed: seeds network initialisation, minibatches, masks and imputations; the same
            seed gives the same fit on CPU.
        feature_names: names of the d features (default: the black box's, else x0..).
        progress: progress bar during ``fit`` (``None``: only on a terminal).
        **overrides: fields of :class:`LEXConfig` replacing the configuration's values,
            e.g. ``LEX("lex", imputation="zero", sparsity=0.1)``.

    After :meth:`fit`: ``model_`` (the :class:`~probex.models.lex.LEXModel`), ``history_``
    (a DataFrame of per-step loss, mean log-likelihood and mask size), ``n_queries_``
    (black-box rows spent in training).
    """

    method = "LEX"

    def __init__(self, config: str | LEXConfig = "lex", *, seed: int = 0, feature_names=None,
                 progress: bool | None = None, **overrides):
        if isinstance(config, str):
            check_choice("config", config, tuple(CONFIGURATIONS))
            config = CONFIGURATIONS[config]
        elif not isinstance(config, LEXConfig):
            raise TypeError("config must be a configuration name or a LEXConfig")
        fields = {f.name for f in dataclasses.fields(LEXConfig)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ValueError(f"unknown LEX option(s) {unknown}; options are {sorted(fields)}")
        self.config = dataclasses.replace(config, **overrides)
        if self.config.selector == "subset" and self.config.k is None:
            raise ValueError("selector='subset' needs k, the number of features to draw "
                             f"(e.g. LEX({self.config.name!r}, k=4))")
        self.seed = int(seed)
        self.feature_names = None if feature_names is None else list(feature_names)
        self.progress = progress
        self.model_: LEXModel | None = None
        self.baseline_ = None
        self.history_: pd.DataFrame | None = None
        self.n_queries_ = 0
        self.device = torch.device("cpu")
        self._predictor_kind: str | None = None
        self._n_classes: int | None = None

    def __repr__(self) -> str:
        state = "fitted" if self.model_ is not None else "not fitted"
        c = self.config
        return (f"LEX({c.name!r}, selector={c.selector!r}, estimator={c.estimator!r}, "
                f"imputation={c.imputation!r}, predictor={c.predictor!r}, {state})")

    # ------------------------------------------------------------------ fitting
    def fit(self, X, target, epochs: int = 20, device="cpu", checkpoint=None,
            checkpoint_every: int = 100, resume: bool = False, callback=None,
            n_classes: int | None = None) -> LEX:
        """Fit the selector (and the predictor, unless fixed) on training rows X.

        Args:
            X: (n, d) training inputs.
            target: class labels (n,) in 0..C-1, or a black box (:class:`~probex.BlackBox`,
                scikit-learn classifier, torch module): its probabilities p(. | x) are the
                targets, and with ``predictor="fixed"`` it is the predictor.
            epochs: passes over X of the selector phase (``pretrain_epochs`` come first).
            device: where networks and data live.
            checkpoint: file to save the training state to every ``checkpoint_every``
                steps (and at the end); ``resume=True`` continues from it. A resumed fit
                ends with exactly the parameters of an uninterrupted one.
            callback: ``callback(step, stats)`` after every step (stats: loss, log_lik,
                n_selected, phase).
            n_classes: number of classes when labels do not show them all.
        """
        c = self.config
        self.device = resolve_device(device)
        X = as_matrix(X, "X", dtype=torch.float32)
        n, d = X.shape
        bb, targets = self._targets(X, target, n_classes)
        self._predictor_kind = c.predictor if c.predictor != "auto" else (
            "fixed" if bb is not None else "joint")
        if self._predictor_kind == "fixed" and bb is None:
            raise ValueError("predictor='fixed' explains a black box: call fit(X, bb) with "
                             "the model, not labels")
        if self.feature_names is None:
            self.feature_names = (bb.feature_names if bb is not None and bb.n_features == d
                                  else None)
        self.feature_names = feature_names_or_default(self.feature_names, d)
        if int(epochs) < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        steps_per_epoch = math.ceil(n / c.batch_size)
        pretrain = (0 if self._predictor_kind == "fixed"
                    else c.pretrain_epochs * steps_per_epoch)
        total = pretrain + int(epochs) * steps_per_epoch
        checkpointer = Checkpointer(checkpoint, checkpoint_every)
        if resume and checkpoint is None:
            raise ValueError("resume=True needs checkpoint=<path>")
        fingerprint = self._fingerprint(X, targets, total)
        X, targets = X.to(self.device), targets.to(self.device)
        history = np.zeros((total, 3))
        start = time.perf_counter()
        with seeded(self.seed, self.device):
            lex, baseline = self._build(X, bb)
            params = [p for p in list(lex.parameters()) + list(baseline.parameters())]
            optimizer = torch.optim.Adam(params, lr=c.learning_rate)
            modules = {"lex": lex, "baseline": baseline}
            step = 0
            if resume:
                step, extra = checkpointer.restore(modules, optimizer)
                if extra.get("fingerprint") != fingerprint:
                    raise ValueError("the checkpoint was written by a different LEX "
                                     "configuration, data set or number of epochs")
                history[:step] = extra["history"].numpy()[:step]
                self.n_queries_ = int(extra.get("n_queries", 0))
            with progress_bar(total, f"LEX ({c.name})", self.progress) as bar:
                bar.update(step)
                while step < total:
                    stats = self._step(lex, baseline, optimizer, X, targets, step, pretrain,
                                       steps_per_epoch)
                    history[step] = (stats["loss"], stats["log_lik"], stats["n_selected"])
                    step += 1
                    if bb is not None:
                        self.n_queries_ = bb.n_queries - self._bb_queries_at_start
                    if checkpointer.due(step) or (checkpointer.path and step == total):
                        checkpointer.save(step, modules, optimizer, extra={
                            "fingerprint": fingerprint, "n_queries": self.n_queries_,
                            "history": torch.as_tensor(history[:step])})
                    bar.update()
                    if step % 50 == 0:
                        bar.set_postfix(loss=f"{stats['loss']:.4g}",
                                        size=f"{stats['n_selected']:.3g}")
                    if callback is not None:
                        callback(step, stats)
        lex.eval()
        self.model_, self.baseline_ = lex, baseline
        self.fit_seconds_ = time.perf_counter() - start
        self.history_ = pd.DataFrame(history, columns=["loss", "log_lik", "n_selected"])
        self.history_.index.name = "step"
        self.history_["phase"] = np.where(np.arange(total) < pretrain, "pretrain", "select")
        return self

    def _targets(self, X, target, n_classes):
        """(black box or None, targets): long labels (n,) or float32 probabilities (n, C)."""
        is_model = isinstance(target, (BlackBox, torch.nn.Module)) or hasattr(
            target, "predict_proba") or (callable(target) and not hasattr(target, "shape"))
        if is_model:
            bb = as_blackbox(target) if isinstance(target, BlackBox) else BlackBox(
                target, task="classification")
            if bb.task != "classification":
                raise ValueError("LEX explains classifiers: the black box must have "
                                 "task='classification'")
            self._bb_queries_at_start = bb.n_queries
            probs = bb.predict(X).to(torch.float32).cpu()
            self._n_classes = probs.shape[1]
            return bb, probs
        labels = np.asarray(target)
        if labels.shape != (X.shape[0],):
            raise ValueError(f"target labels must have shape ({X.shape[0]},), got "
                             f"{labels.shape}; pass a black box for post hoc explanations")
        if not np.issubdtype(labels.dtype, np.number) or not np.all(np.isfinite(labels)) \
                or np.any(labels != np.round(labels)) or labels.min() < 0:
            raise ValueError("target labels must be non-negative integers (class indices)")
        k = int(labels.max()) + 1 if n_classes is None else int(n_classes)
        if k < 2 or labels.max() >= k:
            raise ValueError(f"labels must lie in 0..n_classes-1 with n_classes >= 2 (got "
                             f"max label {int(labels.max())}, n_classes={k})")
        self._n_classes = k
        return None, torch.as_tensor(labels.astype(np.int64))

    def _fingerprint(self, X, targets, total) -> str:
        data = (f"{tuple(X.shape)}:{float(X.double().sum()):.10g}:"
                f"{float(targets.double().sum()):.10g}")
        return f"{self.config!r}|seed={self.seed}|steps={total}|{data}"

    def _build(self, X, bb):
        """The Pyro model's modules (seeded by the caller) and the baseline."""
        from probex.datasets.networks import MLP

        c, d, n_classes = self.config, X.shape[1], self._n_classes
        if c.selector_network == "cnn":
            if int(np.prod(c.image_shape)) != d:
                raise ValueError(f"image_shape {tuple(c.image_shape)} does not match the {d} "
                                 "features of X")
            network = ConvSelectorNet(tuple(c.image_shape))
        else:
            network = MLP(d, d, tuple(c.selector_hidden))
        selector = MaskSelector(network, c.selector, c.k)
        if self._predictor_kind == "fixed":
            if bb.n_features is not None and bb.n_features != d:
                raise ValueError(f"the black box expects {bb.n_features} features, X has {d}")
            predictor = BlackBoxPredictor(bb, differentiable=c.estimator == "relaxed")
        else:
            predictor = LogSoftmax(MLP(d, n_classes, tuple(c.predictor_hidden)))
        imputation = make_imputation(c.imputation, X.cpu(), n_components=c.n_components,
                                     rank=c.rank, seed=self.seed)
        lex = LEXModel(selector, predictor, imputation, n_imputations=c.n_imputations,
                       sparsity=c.sparsity, relaxed=c.estimator == "relaxed",
                       temperature=c.temperature, straight_through=c.straight_through)
        baseline = make_baseline(c.baseline if c.estimator == "reinforce" else "none", d,
                                 n_classes, c.baseline_hidden)
        return lex.to(self.device), baseline.to(self.device)

    def _step(self, lex, baseline, optimizer, X, targets, step, pretrain, steps_per_epoch):
        c = self.config
        epoch, position = divmod(step, steps_per_epoch)
        order = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(
            self.seed * 1_000_003 + epoch))
        index = order[position * c.batch_size:(position + 1) * c.batch_size].to(self.device)
        x, t = X[index], targets[index]
        pretraining = step < pretrain
        trainable = pretraining or self._predictor_kind == "joint"
        for p in lex.predictor.parameters():
            p.requires_grad_(trainable)
        optimizer.zero_grad()
        if pretraining:
            loss, stats = random_mask_loss(lex, x, t, c.pretrain_mask_rate)
        else:
            loss, stats = lex_loss(lex, x, t, c.n_masks, c.estimator, baseline)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the LEX loss became {float(loss)} at step {step}; "
                                     "lower learning_rate")
        loss.backward()
        optimizer.step()
        stats["loss"] = float(loss.detach())
        stats["phase"] = "pretrain" if pretraining else "select"
        return stats

    # ------------------------------------------------------------------ using the fit
    def _check_fitted(self):
        if self.model_ is None:
            raise ValueError("this LEX is not fitted yet: call fit(X, y or bb) first")

    def _inputs(self, X):
        self._check_fitted()
        X = as_matrix(X, "X", n_features=len(self.feature_names), dtype=torch.float32)
        return X.to(self.device)

    def selection_probabilities(self, X) -> np.ndarray:
        """P(z_j = 1 | x) for every row: (n, d) numpy, one forward pass."""
        X = self._inputs(X)
        with torch.no_grad():
            return self.model_.selector.inclusion_probabilities(X).cpu().numpy()

    def select(self, X) -> np.ndarray:
        """The reported selection: pi_j(x) > 0.5 (Bernoulli) or the top k (subset), (n, d)
        booleans."""
        X = self._inputs(X)
        with torch.no_grad():
            return self.model_.selector.mode(X).cpu().numpy() > 0.5

    def predict_proba(self, X, masks=None, n_imputations: int | None = None,
                      seed: int | None = None) -> np.ndarray:
        """p(c | x, z) from the selected features only: (n, C) numpy. ``masks`` (n, d)
        default to :meth:`select`; M imputations (default: the configuration's) fill the
        rest, and the predictor (or the fixed black box) is averaged over them."""
        X = self._inputs(X)
        z = torch.as_tensor(self.select(X.cpu()) if masks is None else np.asarray(masks),
                            dtype=torch.float32, device=self.device)
        if z.shape != X.shape:
            raise ValueError(f"masks must have shape {tuple(X.shape)}, got {tuple(z.shape)}")
        with seeded(self.seed if seed is None else seed, self.device), torch.no_grad():
            log_p = self.model_.log_predictive(X, z, n_imputations)
        return log_p.exp().cpu().numpy()

    def explain(self, X, n_draws: int = 200, seed: int | None = None) -> Explanation:
        """Selection probabilities of a batch X (n, d), or one row (d,), as an Explanation.

        ``mean`` is P(z_j = 1 | x) (closed form, from one forward pass of the selector),
        ``sd`` the mask's sd sqrt(pi (1 - pi)); the posterior draws are ``n_draws`` masks
        from p_gamma(z | x) (their HDIs are what ``hdi`` reports).
        """
        self._check_fitted()
        single = np.ndim(X) == 1
        X = self._inputs(np.atleast_2d(np.asarray(X, dtype=float)) if single else X)
        if int(n_draws) < 2:
            raise ValueError(f"n_draws must be at least 2, got {n_draws}")
        with seeded(self.seed if seed is None else seed, self.device), torch.no_grad():
            selector = self.model_.selector
            probs = selector.inclusion_probabilities(X)
            draws = selector.distribution(X).sample((int(n_draws),))  # (S, n, d)
        probs = probs.double().cpu().numpy()
        draws = draws.double().cpu().numpy()[None]
        sd = np.sqrt(probs * (1 - probs))
        if single:
            probs, sd, draws = probs[0], sd[0], draws[:, :, 0]
        c = self.config
        return Explanation.from_draws(
            draws, self.feature_names, method=self.method, inference="amortized",
            n_queries=0, closed_form={"loc": probs, "sd": sd, "distribution": "bernoulli"},
            attrs={"config": c.name, "selector": c.selector, "estimator": c.estimator,
                   "imputation": c.imputation, "predictor": self._predictor_kind,
                   "sparsity": c.sparsity, "k": -1 if c.k is None else int(c.k),
                   "training_queries": int(self.n_queries_),
                   "quantity": "selection probability"})

    def state_dict(self) -> dict:
        """The fitted parameters and buffers (selector, predictor, imputation, baseline)."""
        self._check_fitted()
        return {**{f"model.{k}": v for k, v in self.model_.state_dict().items()},
                **{f"baseline.{k}": v for k, v in self.baseline_.state_dict().items()}}
