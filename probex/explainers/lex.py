"""LEX (Senetaire et al., "Explainability as statistical inference", ICML 2023) and the
methods it contains as special cases: L2X, INVASE and REAL-X.

:class:`LEX` wires the Pyro model of :mod:`probex.models.lex` (selector, imputation,
predictor; configured by :mod:`probex.models.lex_config`) to a gradient estimator
(:mod:`probex.inference.selection_estimators`) and the shared training loop
(:mod:`probex.inference.training`). After :meth:`LEX.fit`, :meth:`LEX.explain` is
amortized: one forward pass of the selector gives every instance's selection
probabilities.

Named configurations (``LEX(bb, "lex")``, ``LEX("l2x", k=4)``; any field of
:class:`LEXConfig` can be overridden by keyword):

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

import warnings

import numpy as np
import torch

from probex._checks import as_matrix, check_count, feature_names_or_default, resolve_device
from probex._deprecation import deprecated_alias, renamed_arguments
from probex.blackbox import BlackBox, as_blackbox
from probex.explainers._base import AmortizedExplainer, as_background, as_instances
from probex.explainers.lex_fitting import fit_targets, is_model
from probex.explanation import Explanation
from probex.inference._runtime import seeded
from probex.inference.selection_estimators import make_baseline, train_selector
from probex.inference.training import open_checkpoint
from probex.models.lex import LEXModel
from probex.models.lex_config import (  # CONFIGURATIONS: re-exported
    CONFIGURATIONS,
    LEXConfig,
    build_lex_model,
    resolve_config,
)

__all__ = ["LEX", "LEXConfig", "CONFIGURATIONS"]


class LEX(AmortizedExplainer):
    """Instance-wise feature selection as maximum likelihood with a latent mask.

    ``LEX(bb, "lex")`` explains a black box post hoc (``fit(X)`` queries it for the
    targets p(. | x)); ``LEX("l2x", k=4)`` without a model learns in situ from labels
    (``fit(X, y)``), its jointly trained predictor then standing in for the model.

    Args:
        model: the classifier (:class:`~probex.BlackBox`, scikit-learn classifier, torch
            module), or ``None`` for in-situ selection from labels. A configuration given
            first (``LEX("l2x")``) means no model.
        config: a name in :data:`CONFIGURATIONS` (``"lex"``, ``"l2x"``, ``"invase"``,
            ``"realx"``) or a :class:`LEXConfig`.
        seed: seeds network initialisation, minibatches, masks and imputations; the same
            seed gives the same fit on CPU.
        device: where networks and data live.
        feature_names: names of the d features for in-situ fits (default x0..).
        progress: progress bar during ``fit`` (``None``: only on a terminal).
        **overrides: fields of :class:`LEXConfig` replacing the configuration's values,
            e.g. ``LEX(bb, "lex", imputation="zero", sparsity=0.1)``.

    After :meth:`fit`: ``model_`` (the :class:`~probex.models.lex.LEXModel`), ``history_``
    (a DataFrame, one row per step: step, epoch, phase, loss, mean log-likelihood,
    objective and mask size), ``n_queries_fit_`` (black-box rows spent in training; the
    old name ``n_queries_`` is deprecated). The selection explains the whole predictive
    distribution p(y | x_S), so ``explain`` takes no target.
    """

    method = "LEX"

    def __init__(self, model=None, config: str | LEXConfig = "lex", *, seed: int = 0,
                 device=None, feature_names=None, progress: bool | None = None,
                 blackbox_options: dict | None = None, **overrides):
        if isinstance(model, (str, LEXConfig)):  # LEX("l2x", k=4): a configuration first
            model, config = None, model
        super().__init__(model, seed=seed, device=device, progress=progress,
                         blackbox_options=blackbox_options)
        if self.bb is not None and self.bb.task != "classification":
            raise ValueError("LEX explains classifiers: the black box must have "
                             "task='classification'")
        self.config = resolve_config(config, overrides)
        self._names = None if feature_names is None else list(feature_names)
        self.model_: LEXModel | None = None
        self.baseline_ = None
        self._predictor_kind: str | None = None
        self._n_classes: int | None = None

    def __repr__(self) -> str:
        state = "fitted" if self.model_ is not None else "not fitted"
        c = self.config
        return (f"LEX({c.name!r}, selector={c.selector!r}, estimator={c.estimator!r}, "
                f"imputation={c.imputation!r}, predictor={c.predictor!r}, {state})")

    # ------------------------------------------------------------------ fitting
    @renamed_arguments(target="y")
    def fit(self, X, y=None, *, epochs: int = 20, device=None, checkpoint=None,
            checkpoint_every: int = 100, resume: bool = False, callback=None,
            n_classes: int | None = None) -> LEX:
        """Fit the selector (and the predictor, unless fixed) on training rows X.

        Args:
            X: (n, d) training inputs (numpy, torch or a DataFrame).
            y: class labels (n,) in 0..C-1 for in-situ fits; ``None`` when the explainer
                has a black box, whose probabilities p(. | x) are then the targets (and,
                with ``predictor="fixed"``, the predictor).
            epochs: passes over X of the selector phase (``pretrain_epochs`` come first).
            device: where networks and data live (default: the constructor's).
            checkpoint: file to save the training state to every ``checkpoint_every``
                steps (and at the end); its folder is checked before training.
                ``resume=True`` continues from it: a resumed fit ends with exactly the
                parameters of an uninterrupted one, and a checkpoint of another fit
                (seed, configuration, epochs, training data) is refused, naming what
                differs (:func:`probex.inference.training.train`).
            callback: ``callback(step, stats)`` after every step (stats: loss, log_lik,
                objective, n_selected).
            n_classes: number of classes when labels do not show them all.
        """
        if y is not None and is_model(y):
            if self.bb is not None:
                raise ValueError("this LEX already explains a black box; fit(X) takes no "
                                 "second model")
            warnings.warn("LEX.fit(X, model) is deprecated: pass the model first, "
                          "LEX(model, config), then fit(X)", DeprecationWarning, stacklevel=3)
            self.bb = as_blackbox(y) if isinstance(y, BlackBox) else BlackBox(y)
            y = None
        c = self.config
        checkpointer = open_checkpoint(checkpoint, checkpoint_every, resume)
        if device is not None:
            self.device = resolve_device(device)
        if self.bb is not None:
            X = as_background(self.bb, X, "X")
        X = as_matrix(X, "X", n_features=None if self.bb is None else self.bb.n_features,
                      dtype=torch.float32)
        d = X.shape[1]
        check_count("epochs", epochs)
        bb, targets, setup_queries, self._n_classes = fit_targets(self.bb, X, y, n_classes)
        kind = c.predictor if c.predictor != "auto" else ("fixed" if bb is not None else "joint")
        if kind == "fixed" and bb is None:
            raise ValueError("predictor='fixed' explains a black box: build LEX(model, ...) "
                             "and call fit(X)")
        self._predictor_kind = kind
        X, targets = X.to(self.device), targets.to(self.device)
        with seeded(self.seed, self.device):
            lex = build_lex_model(c, X, self._n_classes, bb if kind == "fixed" else None,
                                  self.seed).to(self.device)
            baseline = make_baseline(c.baseline if c.estimator == "reinforce" else "none", d,
                                     self._n_classes, c.baseline_hidden).to(self.device)
            result = train_selector(
                lex, baseline, X, targets, c, epochs=int(epochs), seed=self.seed,
                predictor=kind, fingerprint={"n_classes": self._n_classes},
                checkpoint=checkpointer, resume=resume, setup_queries=setup_queries,
                count_queries=None if bb is None else (lambda: bb.n_queries),
                progress=self.progress, callback=callback, device=self.device)
        self.model_, self.baseline_ = lex.eval(), baseline
        self.history_, self.n_queries_fit_ = result.history, result.n_queries
        self.fit_seconds_ = result.seconds
        if self.bb is None:  # in situ: the jointly trained predictor stands in for a model
            self.bb = BlackBox(lex.predictor, output="logits", n_features=d,
                               feature_names=feature_names_or_default(self._names, d),
                               device=self.device)
        return self

    n_queries_ = deprecated_alias("n_queries_fit_")

    # ------------------------------------------------------------------ using the fit
    def _inputs(self, X) -> torch.Tensor:
        self._check_fitted()
        X, _ = as_instances(self.bb, X, "X")
        return X.to(self.device, torch.float32)

    def _targets(self, target, X):
        if target is not None:
            raise ValueError("LEX selects features for the whole predictive distribution "
                             "p(y | x_S): it takes no target")
        return torch.full((X.shape[0],), -1, dtype=torch.long)

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

    def explain(self, x, *, target=None, n_draws: int = 200) -> Explanation:
        """Selection probabilities of one row (d,) or a batch (n, d), as an Explanation.

        ``mean`` is P(z_j = 1 | x) (closed form, from one forward pass of the selector),
        ``sd`` the mask's sd sqrt(pi (1 - pi)); the draws are ``n_draws`` masks from
        p_gamma(z | x) per instance, from its own stream (their HDIs are what ``hdi``
        reports). No black-box queries.
        """
        return super().explain(x, target=target,
                               n_draws=check_count("n_draws", n_draws, minimum=2))

    def _explain(self, X, targets, streams, *, n_draws: int) -> Explanation:
        X = X.to(self.device, torch.float32)
        selector = self.model_.selector
        with torch.no_grad():
            probs = selector.inclusion_probabilities(X)
            draws = []
            for i in range(X.shape[0]):
                with seeded(int(streams.seeds[i]) % 2**63, self.device):
                    draws.append(selector.distribution(X[i:i + 1]).sample((n_draws,))[:, 0])
        probs = probs.double().cpu().numpy()
        draws = torch.stack(draws, dim=1).double().cpu().numpy()[None]  # (1, S, n, d)
        c = self.config
        return Explanation.from_draws(
            draws, self.bb.feature_names, method=self.method, inference="amortized",
            closed_form={"loc": probs, "sd": np.sqrt(probs * (1 - probs)),
                         "distribution": "bernoulli"},
            attrs={"config": c.name, "selector": c.selector, "estimator": c.estimator,
                   "imputation": c.imputation, "predictor": self._predictor_kind,
                   "sparsity": c.sparsity, "k": -1 if c.k is None else int(c.k),
                   "n_mask_units": (X.shape[1] if selector.units is None
                                    else selector.units.n_groups),
                   "n_queries_fit": int(self.n_queries_fit_),
                   "quantity": "selection probability"})

    def state_dict(self) -> dict:
        """The fitted parameters and buffers (selector, predictor, imputation, baseline)."""
        self._check_fitted()
        return {**{f"model.{k}": v for k, v in self.model_.state_dict().items()},
                **{f"baseline.{k}": v for k, v in self.baseline_.state_dict().items()}}
