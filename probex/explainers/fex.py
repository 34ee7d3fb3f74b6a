"""FEX: an amortized explainer trained by policy gradient (Pan, Moniz & Chawla, "Fast
Explanations via Policy Gradient-Optimized Explainer", IJCAI 2025).

``fit`` trains a policy network g(x) whose outputs lambda in [0, 1]^G are Bernoulli
keep-probabilities of G mask units (features or feature groups such as image patches),
rewarding masks that keep the model's probability of the explained class with few units
(:mod:`probex.models.fex`), by PPO or the score-function ELBO
(:mod:`probex.inference.policy_gradient`) in the shared training loop
(:mod:`probex.inference.training`). ``explain`` is then one forward pass of g: no
queries to the black box.

The explanation of x for class y is the policy itself: the attribution of feature j is
lambda_y,unit(j)(x), the probability that the trained explainer keeps it. In the returned
:class:`~probex.Explanation` the closed-form ``mean`` is lambda and ``sd`` is
sqrt(lambda (1 - lambda)), the moments of the stochastic mask m ~ Bernoulli(lambda); the
draws are lambda itself (one draw) or, with ``n_draws > 0``, mask draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyro
import torch
import xarray as xr

from probex._checks import as_matrix, as_tensor, check_choice, resolve_device
from probex.blackbox import BlackBox, as_blackbox
from probex.explanation import Explanation
from probex.inference._runtime import seeded
from probex.inference.idata import netcdf_attrs
from probex.inference.policy_gradient import FEXSettings, train_policy
from probex.inference.training import open_checkpoint
from probex.models.fex import FEXProgram, MaskReward
from probex.models.fex_policy import (
    FeatureGroups,
    ValueMLP,
    build_policy,
    policy_class_probabilities,
)
from probex.perturb import MaskPerturbation

__all__ = ["FEX", "FeatureGroups"]

_CHUNK = 8192  # rows per policy forward pass in explain


def _positive_int(name: str, value) -> int:
    """``value`` as an int >= 1, or a ValueError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not number.is_integer() or number < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(number)


class FEX:
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
            features (as :class:`~probex.perturb.MaskPerturbation`); default: the fit data.
        replacement: ``"mean"``, ``"median"``, ``"zero"`` or an explicit (d,) baseline.
        objective: ``"ppo"`` (clipped objective, value baseline) or ``"elbo"``
            (score-function ELBO with Pyro's neural baseline).
        reward: ``"ratio"``, c = f_y(masked x) / |m|, or ``"gain"``,
            c = (f_y(masked x) - f_y(baseline)) / |m| (see :mod:`probex.models.fex`).
        trajectory_length: s, masks drawn per instance per update.
        clip, ppo_epochs, value_coef: see
            :class:`probex.inference.policy_gradient.FEXSettings`.
        entropy_coef: weight of the mask distribution's entropy sum_j H(lambda_j). PPO
            standardises advantages, so there it weighs entropy against a unit-variance
            advantage (default 0.5; larger keeps lambda graded, smaller lets it collapse
            onto the few best units); for the ELBO it is the temperature in reward units
            (default 0.05).
        kl_coef: weight of KL(p_hat || f) tying the class heads to the model's
            probabilities (default 0.5 for PPO, 0.2 for the ELBO, in reward units).
        classes: ``"predicted"`` trains each training instance's predicted-class head;
            ``"all"`` trains every head (K times the queries) so that any class can be
            explained.
        learning_rate: Adam's initial step size.
        final_lr_fraction: the step size decays geometrically over ``fit`` to this fraction
            of ``learning_rate`` (default 0.1; 1: constant). Decay averages out the noise
            of the policy-gradient estimates late in training.
        hidden: widths of the MLP policy's hidden layers.
        image_shape: (H, W) for ``explainer="cnn"``.
        seed: seeds initialisation, data order and mask draws.
        device: where the policy and value networks live.
        progress: progress bar during ``fit`` (``None``: only on a terminal).

    After ``fit``: ``history_`` (per-step DataFrame: reward, losses, entropy, KL),
    ``n_queries_fit_`` (black-box rows spent training).
    """

    method = "FEX"

    def __init__(self, bb: BlackBox, n_classes: int, explainer="mlp", feature_groups=None, *,
                 background=None, replacement="mean", objective: str = "ppo",
                 reward: str = "ratio", trajectory_length: int = 5, clip: float = 0.2,
                 ppo_epochs: int = 4, entropy_coef: float | None = None,
                 kl_coef: float | None = None,
                 value_coef: float = 0.5, classes: str = "predicted",
                 learning_rate: float = 1e-3, final_lr_fraction: float = 0.1,
                 hidden: tuple[int, ...] = (128, 128),
                 image_shape=None, seed: int = 0, device="cpu", progress: bool | None = None):
        self.bb = as_blackbox(bb)
        if self.bb.task != "classification":
            raise ValueError("FEX explains classifiers: the black box must have "
                             "task='classification'")
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        check_choice("reward", reward, ("ratio", "gain"))
        if isinstance(replacement, str):
            check_choice("replacement", replacement, ("mean", "median", "zero"))
        self.n_classes = int(n_classes)
        self.explainer_spec = explainer
        self.group_spec = feature_groups
        self.background = None if background is None else as_matrix(background, "background")
        self.replacement = replacement
        self.reward_kind = reward
        self.settings = FEXSettings.for_objective(
            objective, entropy_coef, kl_coef, trajectory_length=int(trajectory_length),
            clip=float(clip), ppo_epochs=int(ppo_epochs), value_coef=float(value_coef),
            classes=classes, learning_rate=learning_rate, final_lr_fraction=final_lr_fraction)
        self.hidden = tuple(_positive_int("hidden layer width", h) for h in hidden)
        self.image_shape = image_shape
        self.seed = int(seed)
        self.device = resolve_device(device)
        self.progress = progress
        self.groups: FeatureGroups | None = None
        self.program: FEXProgram | None = None
        self.history_: pd.DataFrame | None = None
        self.n_queries_fit_ = 0
        if self.bb.n_features is not None:
            self._build(self.bb.n_features)

    # ------------------------------------------------------------------ set-up
    def _build(self, n_features: int) -> None:
        """Networks, seeded; the reward is attached in ``fit`` once the baseline is known."""
        self.groups = (self.group_spec if isinstance(self.group_spec, FeatureGroups)
                       else FeatureGroups(self.group_spec, n_features))
        if self.groups.n_features != n_features:
            raise ValueError(f"feature_groups cover {self.groups.n_features} features, the "
                             f"data have {n_features}")
        with seeded(self.seed):
            policy = build_policy(self.explainer_spec, n_features, self.n_classes, self.groups,
                                  self.hidden, self.image_shape)
            value = ValueMLP(n_features, self.n_classes)
        scale = (1.0 / self.settings.entropy_coef
                 if self.settings.objective == "elbo" else 1.0)
        self.program = FEXProgram(policy.to(self.device), value.to(self.device), None,
                                  self.n_classes, self.groups.n_groups,
                                  name=f"fex_{id(self):x}", reward_scale=scale)

    @property
    def is_fitted(self) -> bool:
        return self.history_ is not None

    def _dtype(self) -> torch.dtype:
        param = next(iter(self.program.policy.parameters()), None)
        return torch.float32 if param is None else param.dtype

    # ------------------------------------------------------------------ training
    def fit(self, X, epochs: int = 20, batch_size: int = 64, device=None, checkpoint=None,
            checkpoint_every: int = 100, resume: bool = False) -> FEX:
        """Train the policy on instances X (n, d); returns ``self``.

        Costs n queries for f(X), plus s queries per instance per update (times K with
        ``classes="all"``): about ``epochs * n * s`` rows in all.

        Args:
            epochs: passes over X; each minibatch is one rollout (and ``ppo_epochs`` steps).
            batch_size: instances per rollout.
            device: move the networks there first (default: the constructor's).
            checkpoint: file to save to every ``checkpoint_every`` updates and at the end
                (its folder is checked before training); with ``resume=True`` training
                continues from it, ending with the weights an uninterrupted run would
                have. A checkpoint of another fit (seed, any constructor setting, epochs,
                batch size, training data) is refused, naming what differs.
        """
        checkpointer = open_checkpoint(checkpoint, checkpoint_every, resume)
        X = as_matrix(X, "X", n_features=self.bb.n_features)
        epochs = _positive_int("epochs", epochs)
        batch_size = _positive_int("batch_size", batch_size)
        self.bb.bind_features(X.shape[1])
        if self.program is None:
            self._build(X.shape[1])
        self._move(device)
        queries_before = self.bb.n_queries
        model_probs = self.bb.predict(X)
        if model_probs.shape[1] != self.n_classes:
            raise ValueError(f"the model returns {model_probs.shape[1]} classes but "
                             f"n_classes={self.n_classes}")
        background = self.background if self.background is not None else X
        baseline = MaskPerturbation(background, replacement=self.replacement).baseline
        if baseline.shape != (X.shape[1],):
            raise ValueError(f"the replacement baseline has {baseline.shape[0]} features (from "
                             f"background= or replacement=); X has {X.shape[1]}")
        reward = MaskReward(self.bb.predict, baseline, self.groups, self.reward_kind)
        if self.reward_kind == "gain":
            reward.baseline_probabilities()  # f(b): one query, spent (and counted) up front
        self.program.reward = reward
        dtype = self._dtype()
        with pyro.get_param_store().scope(), seeded(self.seed, self.device):
            result = train_policy(
                self.program, X.to(self.device, dtype), model_probs.to(self.device, dtype),
                self.settings, epochs=epochs, batch_size=batch_size, seed=self.seed, config={
                    "reward": self.reward_kind, "n_classes": self.n_classes,
                    "explainer": self.explainer_spec, "hidden": self.hidden,
                    "image_shape": self.image_shape, "feature_groups": self.groups.ids,
                    "replacement baseline": baseline},
                checkpoint=checkpointer, resume=resume, progress=self.progress,
                count_queries=lambda: self.bb.n_queries, device=self.device,
                setup_queries=self.bb.n_queries - queries_before)
        self.history_, self.n_queries_fit_ = result.history, result.n_queries
        return self

    def _move(self, device) -> None:
        """Move the policy and value networks to ``device`` (``None``: leave them)."""
        if device is None:
            return
        self.device = resolve_device(device)
        self.program.policy.to(self.device)
        self.program.value.to(self.device)

    # ------------------------------------------------------------------ explaining
    def _forward(self, X: torch.Tensor) -> torch.Tensor:
        """Policy logits (n, K, G) in chunks, without gradients."""
        with torch.no_grad():
            return torch.cat([self.program.logits(X[i:i + _CHUNK])
                              for i in range(0, X.shape[0], _CHUNK)])

    def _resolve_targets(self, target, logits: torch.Tensor) -> torch.Tensor:
        n = logits.shape[0]
        if isinstance(target, str):
            check_choice("target", target, ("predicted",))
            return policy_class_probabilities(logits).argmax(-1)
        targets = torch.as_tensor(np.asarray(target)).reshape(-1).to(logits.device)
        if targets.numel() == 1:
            targets = targets.expand(n)
        if targets.shape != (n,) or targets.is_floating_point():
            raise ValueError(f"target must be 'predicted', a class index or {n} class indices")
        if bool(((targets < 0) | (targets >= self.n_classes)).any()):
            raise ValueError(f"target classes must be in 0..{self.n_classes - 1}")
        return targets.long()

    def attributions(self, X, target="predicted", device=None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """lambda for each feature, (n, d) in [0, 1], and the explained classes (n,): the
        fast path of :meth:`explain` (no Explanation object, no black-box queries).
        ``target`` and ``device`` as in :meth:`explain`."""
        unit_lam, targets, _ = self._attributions(X, target, device)
        return self.groups.expand(torch.from_numpy(unit_lam)).numpy(), targets

    def _attributions(self, X, target, device=None):
        """Per-unit lambda (n, G), explained classes (n,) and p_hat (n, K), as numpy."""
        if not self.is_fitted:
            raise ValueError("FEX is not trained: call fit(X_train) first")
        self._move(device)
        X = as_tensor(X, "X", dtype=self._dtype(), device=self.device)
        if X.ndim != 2 or X.shape[1] != self.groups.n_features:
            raise ValueError(f"X must have shape (n, {self.groups.n_features}); got "
                             f"{tuple(X.shape)}")
        if X.shape[0] == 0:
            raise ValueError("X has no rows")
        logits = self._forward(X)
        targets = self._resolve_targets(target, logits)
        unit_lam = torch.sigmoid(self.program.target_logits(X, targets, logits).double())
        p_hat = policy_class_probabilities(logits.double())
        return unit_lam.cpu().numpy(), targets.cpu().numpy(), p_hat.cpu().numpy()

    def explain(self, X, target="predicted", n_draws: int = 0, seed: int | None = None,
                device=None) -> Explanation:
        """Explain instances X ((d,) or (n, d)) with one forward pass; no black-box queries.

        Args:
            target: ``"predicted"`` (the class the explainers' own p_hat ranks first, a
                query-free stand-in for the model's prediction), a class index, or one
                index per instance.
            n_draws: 0 stores lambda as the single draw; otherwise that many Bernoulli
                mask draws m ~ Bernoulli(lambda) (seeded by ``seed``, default the
                explainer's).
            device: move the networks there first (default: leave them where ``fit``
                put them); the explanation comes back as numpy either way.

        Returns:
            an :class:`~probex.Explanation` over the black box's feature names (coordinate
            ``feature``; ``instance`` for a batch) with mean lambda in [0, 1] and sd
            sqrt(lambda (1 - lambda)) per feature, shape (d,) or (n, d) (closed form: the
            moments of the Bernoulli mask, not an estimation error; lambda is a
            deterministic function of x). Its InferenceData is built on first use and
            holds the draws, the explained class (``constant_data`` ``target``) and p_hat
            (``class_probabilities``). With ``n_draws=0`` ``hdi`` is the degenerate
            interval of the single draw lambda; with mask draws it is the draws' HDI.
        """
        X_in = as_tensor(X, "X")
        single = X_in.ndim == 1
        if int(n_draws) < 0:
            raise ValueError(f"n_draws must be non-negative, got {n_draws}")
        unit_lam, targets, p_hat = self._attributions(X_in[None] if single else X_in, target,
                                                      device)
        unit_lam = torch.from_numpy(unit_lam)
        lam = self.groups.expand(unit_lam).numpy()
        sd = np.sqrt(lam * (1.0 - lam))
        names = self.bb.feature_names
        classes = (self.bb.class_names if self.bb.class_names is not None
                   and len(self.bb.class_names) == self.n_classes else
                   [str(k) for k in range(self.n_classes)])
        inference = f"amortized-{self.settings.objective}"
        attrs = {"objective": self.settings.objective, "reward": self.reward_kind,
                 "trajectory_length": self.settings.trajectory_length,
                 "entropy_coef": self.settings.entropy_coef, "kl_coef": self.settings.kl_coef,
                 "n_groups": self.groups.n_groups, "n_queries_fit": self.n_queries_fit_,
                 "seed": self.seed, "n_draws": int(n_draws)}
        meta = netcdf_attrs({"inference": inference, "method": self.method, "n_queries": 0,
                             "n_instances": 1 if single else lam.shape[0], **attrs})
        dims = ["feature"] if single else ["instance", "feature"]
        coords = {"feature": names}
        if not single:
            coords["instance"] = np.arange(lam.shape[0])
        closed = xr.Dataset({"loc": (dims, lam[0] if single else lam),
                             "sd": (dims, sd[0] if single else sd)}, coords=coords,
                            attrs={"distribution": "bernoulli"})
        draw_seed = self.seed if seed is None else int(seed)

        def build():
            if n_draws:
                generator = torch.Generator().manual_seed(draw_seed)
                masks = torch.bernoulli(unit_lam.expand(int(n_draws), *unit_lam.shape),
                                        generator=generator)
                draws = self.groups.expand(masks).numpy()[None]
            else:
                draws = lam[None, None]
            instance_dims = [] if single else ["instance"]
            return Explanation.from_draws(
                draws[:, :, 0] if single else draws, names, method=self.method,
                inference=inference, n_queries=0,
                closed_form={"loc": closed["loc"].values, "sd": closed["sd"].values,
                             "distribution": "bernoulli"},
                constant_data={"target": targets[0] if single else targets,
                               "class_probabilities": p_hat[0] if single else p_hat,
                               "feature_group": self.groups.ids.numpy()},
                dims={"target": instance_dims,
                      "class_probabilities": [*instance_dims, "class"],
                      "feature_group": ["feature"]},
                coords={"class": classes}, attrs=attrs).idata

        return Explanation.deferred(closed, meta, build)
