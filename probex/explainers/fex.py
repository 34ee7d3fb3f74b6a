"""FEX: an amortized explainer trained by policy gradient (Pan, Moniz & Chawla, "Fast
Explanations via Policy Gradient-Optimized Explainer", IJCAI 2025).

``fit`` trains a policy network g(x) whose outputs lambda in [0, 1]^G are Bernoulli
keep-probabilities of G mask units (features or feature groups such as image patches),
rewarding masks that keep the model's probability of the explained class with few units
(:mod:`probex.models.fex`). The default estimator is the local-expectation gradient
(:mod:`probex.inference.fex_local_gradient`: each drawn mask and its G single-unit flips);
PPO and the score-function ELBO (:mod:`probex.inference.policy_gradient`) remain as
options. Training runs in the shared loop (:mod:`probex.inference.training`) on
standardised inputs and holds out part of the fit data, whose deletion AUC (computed with
the stored replacement baseline ``baseline_``) is scored after every epoch: the
convergence signal, the epoch whose weights are kept, and optionally an early stop.
``explain`` is then one forward pass of g: no queries to the black box.
:meth:`FEX.fidelity` checks a fitted explainer against BayesSHAP and random orderings on
a sample of rows.

The explanation of x for class y is the policy itself: the attribution of feature j is
lambda_y,unit(j)(x), the probability that the trained explainer keeps it. In the returned
:class:`~probex.Explanation` the closed-form ``mean`` is lambda and ``sd`` is
sqrt(lambda (1 - lambda)), the moments of the stochastic mask m ~ Bernoulli(lambda); the
draws are lambda itself (one draw) or, with ``n_draws > 0``, mask draws.

The class wires its siblings together: :mod:`probex.explainers.fex_training` builds the
networks and runs ``fit``, :mod:`probex.explainers.fex_holdout` scores the held-out rows,
:mod:`probex.explainers.fex_explanation` computes the forward pass and builds the
Explanation, and :mod:`probex.explainers.fex_diagnostics` adds the checks of a fit
(:meth:`FEX.fidelity`, :mod:`probex.explainers.fex_fidelity`; :meth:`FEX.plot_history`).
"""

from __future__ import annotations

import numpy as np
import torch

from probex._checks import as_matrix, check_choice, check_count
from probex.explainers._base import AmortizedExplainer, as_background, as_instances
from probex.explainers.fex_diagnostics import FEXDiagnostics
from probex.explainers.fex_explanation import lambda_explanation, policy_forward
from probex.explainers.fex_training import build_networks, fit_policy, move_networks
from probex.explanation import Explanation
from probex.inference.policy_gradient import FEXSettings
from probex.models.fex import FEXProgram
from probex.models.fex_policy import policy_class_probabilities
from probex.perturb import FeatureGroups

__all__ = ["FEX", "FeatureGroups"]


class FEX(FEXDiagnostics, AmortizedExplainer):
    """Amortized explanations: a mask policy trained once, one forward pass per input.

    Args:
        bb: the classifier's :class:`~probex.BlackBox` (or a model, wrapped with defaults).
        n_classes: K, the number of classes (one explainer head per class).
        explainer: the policy network: ``"mlp"``, ``"cnn"`` (row-major images; square
            unless ``image_shape`` is given) or a torch module mapping (n, d) to logits
            (n, K, G) or (n, K * G).
        feature_groups: ``None`` (one mask unit per feature), d integer group ids, or a
            list of index lists; :meth:`FeatureGroups.image_patches` builds patches.
        background: (N, d) data whose ``replacement`` statistic replaces masked-out
            features (as :class:`~probex.perturb.MaskPerturbation`); default: the fit data
            (all of it, before the held-out split). The result is ``baseline_``.
        replacement: ``"mean"``, ``"median"``, ``"zero"`` or an explicit (d,) baseline.
        objective: ``"local"`` (default: the local-expectation gradient, G + 1 queries
            per mask, no value network), ``"ppo"`` (clipped objective, value baseline) or
            ``"elbo"`` (score-function ELBO with Pyro's neural baseline).
        reward: ``"ratio"``, c = f_y(masked x) / |m|, or ``"gain"``,
            c = (f_y(masked x) - f_y(baseline)) / |m| (see :mod:`probex.models.fex`).
        trajectory_length: s, masks drawn per instance per update (default 1 for the
            local gradient, 5 for PPO and the ELBO).
        clip, ppo_epochs, value_coef: see
            :class:`probex.inference.policy_gradient.FEXSettings` (``ppo_epochs``: the
            gradient steps per rollout of PPO and of the local gradient).
        entropy_coef: weight of the mask distribution's entropy sum_j H(lambda_j). For the
            local gradient (default 1.0) it is a temperature in units of each row's mean
            absolute unit effect: larger keeps lambda graded, and a saturated policy
            (lambda at 0 or 1) ranks its units arbitrarily. PPO standardises advantages,
            so there it weighs entropy against a unit-variance advantage (default 0.5);
            for the ELBO it is the temperature in reward units (default 0.05).
        kl_coef: weight of KL(p_hat || f) tying the class heads to the model's
            probabilities (default 0.5 for the local gradient and PPO, 0.2 for the ELBO).
        classes: ``"predicted"`` trains each training instance's predicted-class head;
            ``"all"`` trains every head (K times the queries) so that any class can be
            explained.
        learning_rate: Adam's initial step size.
        final_lr_fraction: the step size decays geometrically over ``fit`` to this fraction
            of ``learning_rate`` (default 0.1; 1: constant). Decay averages out the noise
            of the policy-gradient estimates late in training.
        hidden: widths of the MLP policy's hidden layers.
        image_shape: (H, W) for ``explainer="cnn"``.
        standardize: put an input standardiser (mean and standard deviation of the fit
            data; one pair for all pixels with ``explainer="cnn"``) in front of the
            built-in policy and value networks (default True; a user's network gets the
            inputs as they are).
        seed: seeds initialisation, data order, the held-out split and mask draws.
        device: where the policy and value networks live.
        progress: progress bar during ``fit`` (``None``: only on a terminal).

    After ``fit``: ``history_`` (per-step DataFrame: reward, losses, entropy, KL, and at
    each epoch's last step the held-out deletion AUC ``holdout_deletion_auc`` with the
    paired standard error ``holdout_deletion_auc_se`` of its difference to the best
    epoch), ``n_queries_fit_`` (black-box rows spent training, held-out scoring included),
    ``baseline_`` ((d,) numpy, the replacement of masked-out features; pass it to
    :func:`probex.metrics.deletion_auc` as ``baseline=``), ``best_epoch_`` (the epoch
    whose weights were kept), ``n_epochs_`` (epochs run) and ``holdout_rows_`` (rows held
    out of training).
    """

    method = "FEX"

    def __init__(self, model, n_classes: int | None = None, explainer="mlp",
                 feature_groups=None, *, background=None, replacement="mean",
                 objective: str = "local", reward: str = "ratio",
                 trajectory_length: int | None = None, clip: float = 0.2, ppo_epochs: int = 4,
                 entropy_coef: float | None = None, kl_coef: float | None = None,
                 value_coef: float = 0.5, classes: str = "predicted",
                 learning_rate: float = 1e-3, final_lr_fraction: float = 0.1,
                 hidden: tuple[int, ...] = (128, 128), image_shape=None,
                 standardize: bool = True, seed: int = 0, device="cpu",
                 progress: bool | None = None, blackbox_options: dict | None = None):
        super().__init__(model, seed=seed, device=device, progress=progress,
                         blackbox_options=blackbox_options)
        if self.bb.task != "classification":
            raise ValueError("FEX explains classifiers: the black box must have "
                             "task='classification'")
        if n_classes is not None and (isinstance(n_classes, bool) or int(n_classes) < 2):
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        check_choice("reward", reward, ("ratio", "gain"))
        if isinstance(replacement, str):
            check_choice("replacement", replacement, ("mean", "median", "zero"))
        self.n_classes = None if n_classes is None else int(n_classes)
        self.explainer_spec = explainer
        self.group_spec = feature_groups
        self.background = None if background is None else as_matrix(
            as_background(self.bb, background), "background")
        self.replacement = replacement
        self.reward_kind = reward
        if trajectory_length is not None:
            trajectory_length = check_count("trajectory_length", trajectory_length)
        self.settings = FEXSettings.for_objective(
            objective, entropy_coef, kl_coef, trajectory_length=trajectory_length,
            clip=float(clip), ppo_epochs=int(ppo_epochs), value_coef=float(value_coef),
            classes=classes, learning_rate=learning_rate, final_lr_fraction=final_lr_fraction)
        self.hidden = tuple(check_count("hidden layer width", h) for h in hidden)
        self.image_shape = image_shape
        self.standardize = bool(standardize)
        self.baseline_: np.ndarray | None = None
        self.best_epoch_: int | None = None
        self.n_epochs_: int | None = None
        self.holdout_rows_ = 0
        self._pending = None  # (X, logits) of the last class choice, for _lambda
        self.groups: FeatureGroups | None = None
        self.program: FEXProgram | None = None
        if self.bb.n_features is not None and self.n_classes is not None:
            self._build(self.bb.n_features)

    # ------------------------------------------------------------------ set-up
    def _build(self, n_features: int) -> None:
        """Networks, seeded; the reward is attached in ``fit`` once the baseline is known."""
        build_networks(self, n_features)

    # ------------------------------------------------------------------ training
    def fit(self, X, epochs: int = 30, batch_size: int = 16, device=None, checkpoint=None,
            checkpoint_every: int = 100, resume: bool = False, *, holdout: float = 0.15,
            patience: int | None = None, min_epochs: int | None = None) -> FEX:
        """Train the policy on instances X (n, d); returns ``self``.

        Costs n queries for f(X), then per training row and epoch s * (G + 1) queries
        with the local gradient (s with PPO or the ELBO; times K with ``classes="all"``),
        and n_hold * (G + 1) queries per epoch to score the held-out rows.

        Args:
            epochs: the most passes over the training rows; each minibatch is one rollout
                (and ``ppo_epochs`` steps).
            batch_size: instances per rollout.
            device: move the networks there first (default: the constructor's).
            checkpoint: file to save to every ``checkpoint_every`` updates and at the end
                (its folder is checked before training); with ``resume=True`` training
                continues from it, ending with the weights an uninterrupted run would
                have. A checkpoint of another fit (seed, any constructor setting, epochs,
                batch size, held-out split, training data) is refused, naming what differs.
            holdout: fraction of X held out of training (at most 200 rows, drawn with the
                seed) and scored by deletion AUC after every epoch (the convergence
                signal in ``history_`` and :meth:`plot_history`); the best epoch's
                weights are kept. 0, or fewer than 16 rows to hold out, trains on every
                row and keeps the last weights.
            patience: stop once the held-out score has not reached a new best for this
                many epochs, never before ``min_epochs`` (default epochs // 3)
                (:class:`probex.inference.early_stopping.EarlyStopping`). Default
                ``None``: train all ``epochs``. On small tabular sets the held-out curve
                is noisy and still falls at 30 epochs, so early stopping cost accuracy
                there (patience 5: bc_mlp 0.442 -> 0.518 test deletion AUC).
        """
        fit_policy(self, X, epochs, batch_size, device, checkpoint, checkpoint_every, resume,
                   holdout=holdout, patience=patience, min_epochs=min_epochs)
        return self

    # ------------------------------------------------------------------ explaining
    def _forward(self, X: torch.Tensor) -> torch.Tensor:
        """Policy logits (n, K, G) in chunks, without gradients, computed in float64 (with
        the float32 weights' exact values): float32 matrix products round differently for
        different batch sizes, and a row's explanation must not depend on its batch."""
        return policy_forward(self.program.policy, X, self.n_classes, self.groups.n_groups,
                              self.device)

    def _predicted_classes(self, X: torch.Tensor) -> torch.Tensor:
        """The class FEX's own p_hat ranks first: a query-free stand-in for the model's
        prediction. The logits are kept for the :meth:`_lambda` call on the same X that
        follows (one forward pass per explanation)."""
        logits = self._forward(X)
        self._pending = (X, logits)
        return policy_class_probabilities(logits).argmax(-1).cpu()

    def attributions(self, X, target=None, device=None) -> tuple[np.ndarray, np.ndarray]:
        """lambda for each feature, (n, d) in [0, 1], and the explained classes (n,): the
        fast path of :meth:`explain` (no Explanation object, no black-box queries).
        ``target`` and ``device`` as in :meth:`explain`."""
        self._check_fitted()
        move_networks(self, device)
        X, _ = as_instances(self.bb, X, "X")
        targets = self._targets(target, X)
        unit_lam, _ = self._lambda(X, targets)
        return self.groups.expand(unit_lam).numpy(), targets.numpy()

    def _lambda(self, X: torch.Tensor, targets: torch.Tensor):
        """Per-unit lambda (n, G) and p_hat (n, K), float64 on the CPU."""
        pending, self._pending = self._pending, None
        logits = pending[1] if pending is not None and pending[0] is X else self._forward(X)
        unit_lam = torch.sigmoid(self.program.target_logits(
            X, targets.to(self.device), logits).double())
        return unit_lam.cpu(), policy_class_probabilities(logits.double()).cpu()

    def explain(self, x, *, target=None, n_draws: int = 0, device=None) -> Explanation:
        """Explain one instance (d,) or a batch (n, d) with one forward pass; no black-box
        queries.

        Args:
            target: ``"predicted"`` (default: the class FEX's own p_hat ranks first, a
                query-free stand-in for the model's prediction), a class index, or one
                index per instance.
            n_draws: 0 stores lambda as the single draw; otherwise that many Bernoulli
                mask draws m ~ Bernoulli(lambda) per instance (from its own stream).
            device: move the networks there first (default: leave them where ``fit``
                put them); the explanation comes back as numpy either way.

        Returns:
            an :class:`~probex.Explanation` over the black box's feature names with mean
            lambda in [0, 1] and sd sqrt(lambda (1 - lambda)) per feature (closed form:
            the moments of the Bernoulli mask, not an estimation error; lambda is a
            deterministic function of x). Its InferenceData is built on first use and
            holds the draws, p_hat (``class_probabilities``) and the feature groups.
        """
        move_networks(self, device)
        return super().explain(x, target=target,
                               n_draws=check_count("n_draws", n_draws, minimum=0))

    def _explain(self, X, targets, streams, *, n_draws: int) -> Explanation:
        unit_lam, p_hat = self._lambda(X, targets)
        return lambda_explanation(self, unit_lam, p_hat, streams, n_draws=n_draws)
