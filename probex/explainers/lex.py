"""LEX (Senetaire et al., "Explainability as statistical inference", ICML 2023) and the
methods it contains as special cases: L2X, INVASE and REAL-X.

:class:`LEX` wires the Pyro model of :mod:`probex.models.lex` (selector, imputation,
predictor; configured by :mod:`probex.models.lex_config`) to a gradient estimator
(:mod:`probex.inference.selection_estimators`) and the shared training loop
(:mod:`probex.inference.training`). After :meth:`LEX.fit`, :meth:`LEX.explain` is
amortized: one forward pass of the selector gives every instance's selection
probabilities.

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
import warnings

import numpy as np
import pandas as pd
import torch

from probex._checks import as_matrix, check_choice, feature_names_or_default, resolve_device
from probex.blackbox import BlackBox, as_blackbox
from probex.explanation import Explanation
from probex.inference._runtime import seeded
from probex.inference.selection_estimators import make_baseline, train_selector
from probex.inference.training import open_checkpoint
from probex.models.lex import LEXModel
from probex.models.lex_config import CONFIGURATIONS, LEXConfig, build_lex_model

__all__ = ["LEX", "LEXConfig", "CONFIGURATIONS"]


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
    (a DataFrame, one row per step: step, epoch, phase, loss, mean log-likelihood,
    objective and mask size), ``n_queries_fit_`` (black-box rows spent in training; the
    old name ``n_queries_`` is deprecated).
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
        self.n_queries_fit_ = 0
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
                steps (and at the end); its folder is checked before training.
                ``resume=True`` continues from it: a resumed fit ends with exactly the
                parameters of an uninterrupted one, and a checkpoint of another fit
                (seed, configuration, epochs, training data) is refused, naming what
                differs (:func:`probex.inference.training.train`).
            callback: ``callback(step, stats)`` after every step (stats: loss, log_lik,
                objective, n_selected).
            n_classes: number of classes when labels do not show them all.
        """
        c = self.config
        checkpointer = open_checkpoint(checkpoint, checkpoint_every, resume)
        self.device = resolve_device(device)
        X = as_matrix(X, "X", dtype=torch.float32)
        d = X.shape[1]
        if int(epochs) < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        bb, targets, setup_queries = self._targets(X, target, n_classes)
        kind = c.predictor if c.predictor != "auto" else ("fixed" if bb is not None else "joint")
        if kind == "fixed" and bb is None:
            raise ValueError("predictor='fixed' explains a black box: call fit(X, bb) with "
                             "the model, not labels")
        self._predictor_kind = kind
        if self.feature_names is None:
            self.feature_names = (bb.feature_names if bb is not None and bb.n_features == d
                                  else None)
        self.feature_names = feature_names_or_default(self.feature_names, d)
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
        return self

    @property
    def n_queries_(self) -> int:
        """Deprecated alias of ``n_queries_fit_`` (removed in the next release)."""
        warnings.warn("LEX.n_queries_ is deprecated; use n_queries_fit_", DeprecationWarning,
                      stacklevel=2)
        return self.n_queries_fit_

    def _targets(self, X, target, n_classes):
        """(black box or None, targets, rows queried): long labels (n,) or float32
        probabilities (n, C) and the black-box rows spent computing them."""
        is_model = isinstance(target, (BlackBox, torch.nn.Module)) or hasattr(
            target, "predict_proba") or (callable(target) and not hasattr(target, "shape"))
        if is_model:
            bb = as_blackbox(target) if isinstance(target, BlackBox) else BlackBox(
                target, task="classification")
            if bb.task != "classification":
                raise ValueError("LEX explains classifiers: the black box must have "
                                 "task='classification'")
            before = bb.n_queries
            probs = bb.predict(X).to(torch.float32).cpu()
            self._n_classes = probs.shape[1]
            return bb, probs, bb.n_queries - before
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
        return None, torch.as_tensor(labels.astype(np.int64)), 0

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
                   "n_queries_fit": int(self.n_queries_fit_),
                   "quantity": "selection probability"})

    def state_dict(self) -> dict:
        """The fitted parameters and buffers (selector, predictor, imputation, baseline)."""
        self._check_fitted()
        return {**{f"model.{k}": v for k, v in self.model_.state_dict().items()},
                **{f"baseline.{k}": v for k, v in self.baseline_.state_dict().items()}}
