"""FEX's training: the networks built from the constructor's settings, and the fit loop.

:func:`build_networks` builds the seeded policy (and the value network of PPO and the
ELBO) into a :class:`probex.models.fex.FEXProgram` and :func:`move_networks` moves them to
a device; :func:`fit_policy` is the body of :meth:`probex.explainers.fex.FEX.fit`: the
replacement baseline, the input standardisers, the reward, the held-out split and its
monitor (:mod:`probex.explainers.fex_holdout`) and the shared policy-gradient loop
(:func:`probex.inference.policy_gradient.train_policy`). All work on the
:class:`~probex.explainers.fex.FEX` they are given.
"""

from __future__ import annotations

import pyro
import torch

from probex._checks import as_matrix, check_count, resolve_device
from probex.explainers.fex_holdout import holdout_monitor, split_holdout
from probex.inference._runtime import seeded
from probex.inference.policy_gradient import train_policy
from probex.inference.training import open_checkpoint
from probex.models.fex import FEXProgram, MaskReward
from probex.models.fex_policy import ValueMLP, build_policy, input_standardizer, standardized
from probex.perturb import FeatureGroups, MaskPerturbation

__all__ = ["build_networks", "move_networks", "fit_policy"]


def build_networks(fex, n_features: int) -> None:
    """Set ``fex.groups`` and ``fex.program``: networks, seeded; the reward is attached in
    :func:`fit_policy` once the baseline is known."""
    fex.groups = (fex.group_spec if isinstance(fex.group_spec, FeatureGroups)
                  else FeatureGroups(fex.group_spec, n_features))
    if fex.groups.n_features != n_features:
        raise ValueError(f"feature_groups cover {fex.groups.n_features} features, the "
                         f"data have {n_features}")
    with seeded(fex.seed):
        policy = build_policy(fex.explainer_spec, n_features, fex.n_classes, fex.groups,
                              fex.hidden, fex.image_shape, standardize=fex.standardize)
        value = None
        if fex.settings.objective != "local":  # the local gradient needs no baseline
            value = ValueMLP(n_features, fex.n_classes)
            if fex.standardize:
                value = standardized(value, n_features)
    scale = (1.0 / fex.settings.entropy_coef
             if fex.settings.objective == "elbo" else 1.0)
    fex.program = FEXProgram(policy.to(fex.device),
                             None if value is None else value.to(fex.device), None,
                             fex.n_classes, fex.groups.n_groups,
                             name=f"fex_{id(fex):x}", reward_scale=scale)


def move_networks(fex, device) -> None:
    """Move ``fex``'s policy and value networks to ``device`` and make it ``fex.device``
    (``None``: leave them)."""
    if device is None:
        return
    fex.device = resolve_device(device)
    for module in fex.program.networks().values():
        module.to(fex.device)

def _policy_dtype(program: FEXProgram) -> torch.dtype:
    param = next(iter(program.policy.parameters()), None)
    return torch.float32 if param is None else param.dtype


def fit_policy(fex, X, epochs: int, batch_size: int, device, checkpoint,
               checkpoint_every: int, resume: bool, *, holdout: float,
               patience: int | None, min_epochs: int | None) -> None:
    """Train ``fex``'s policy on instances X (n, d); arguments as in
    :meth:`probex.explainers.fex.FEX.fit`. Sets ``baseline_``, ``history_``,
    ``n_queries_fit_``, ``best_epoch_``, ``n_epochs_`` and ``holdout_rows_``."""
    checkpointer = open_checkpoint(checkpoint, checkpoint_every, resume)
    X = as_matrix(X, "X", n_features=fex.bb.n_features)
    epochs = check_count("epochs", epochs)
    batch_size = check_count("batch_size", batch_size)
    patience = epochs + 1 if patience is None else check_count("patience", patience)
    min_epochs = epochs // 3 if min_epochs is None else check_count(
        "min_epochs", min_epochs, minimum=0)
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be a fraction in [0, 1), got {holdout!r}")
    fex.bb.bind_features(X.shape[1])
    queries_before = fex.bb.n_queries
    model_probs = fex.bb.predict(X)
    if fex.n_classes is None:
        fex.n_classes = model_probs.shape[1]
    if fex.program is None:
        build_networks(fex, X.shape[1])
    move_networks(fex, device)
    if model_probs.shape[1] != fex.n_classes:
        raise ValueError(f"the model returns {model_probs.shape[1]} classes but "
                         f"n_classes={fex.n_classes}")
    background = fex.background if fex.background is not None else X
    baseline = MaskPerturbation(background, replacement=fex.replacement).baseline
    if baseline.shape != (X.shape[1],):
        raise ValueError(f"the replacement baseline has {baseline.shape[0]} features (from "
                         f"background= or replacement=); X has {X.shape[1]}")
    fex.baseline_ = baseline.numpy().copy()
    for module in fex.program.networks().values():
        standardizer = input_standardizer(module)
        if standardizer is not None:
            standardizer.fit_(X)
    reward = MaskReward(fex.bb.predict, baseline, fex.groups, fex.reward_kind)
    if fex.reward_kind == "gain":
        reward.baseline_probabilities()  # f(b): one query, spent (and counted) up front
    fex.program.reward = reward
    train_rows, hold_rows = split_holdout(X.shape[0], holdout, fex.seed)
    dtype = _policy_dtype(fex.program)
    monitor = None
    if len(hold_rows):
        monitor = holdout_monitor(fex, X[hold_rows], model_probs[hold_rows].argmax(-1),
                                  patience=patience, min_epochs=min_epochs)
    with seeded(fex.seed, fex.device), pyro.get_param_store().scope():
        result = train_policy(
            fex.program, X[train_rows].to(fex.device, dtype),
            model_probs[train_rows].to(fex.device, dtype),
            fex.settings, epochs=epochs, batch_size=batch_size, seed=fex.seed, config={
                "reward": fex.reward_kind, "n_classes": fex.n_classes,
                "explainer": fex.explainer_spec, "hidden": fex.hidden,
                "image_shape": fex.image_shape, "feature_groups": fex.groups.ids,
                "replacement baseline": baseline, "standardize": fex.standardize,
                "holdout": float(holdout), "held-out rows": hold_rows,
                "patience": patience, "min_epochs": min_epochs},
            checkpoint=checkpointer, resume=resume, progress=fex.progress,
            count_queries=lambda: fex.bb.n_queries, device=fex.device,
            setup_queries=fex.bb.n_queries - queries_before, monitor=monitor)
    steps_per_epoch = -(-len(train_rows) // batch_size)
    fex.n_epochs_ = -(-len(result.history) // steps_per_epoch)
    fex.best_epoch_ = fex.n_epochs_ - 1
    if monitor is not None:
        monitor.restore_best()
        fex.best_epoch_ = monitor.best_epoch
    fex.holdout_rows_ = len(hold_rows)
    fex.history_, fex.n_queries_fit_ = result.history, result.n_queries
