"""Faithfulness of attributions: deletion and insertion curves and their areas.

Order an instance's features (or feature groups) by attribution, most important first.
The *deletion* curve (the "positive perturbation" test) replaces the top k units by a
baseline for k = 0 .. G and follows the model's probability of the explained class; a
faithful attribution makes it drop fast, so a *lower* area is better. The *insertion*
curve starts from the baseline and puts the top k units back (the "negative" test here):
a *higher* area is better. Areas are trapezoids over the fraction of units k / G in
[0, 1], so they are averages of the probability along the curve (Petsiuk et al., RISE,
BMVC 2018, Sec. 4.1). A random ordering gives the reference every method must beat.

Every point of every curve is one black-box query: n * (n_steps + 1) rows per curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from probex._checks import as_matrix, as_tensor, check_choice
from probex.blackbox import BlackBox, as_blackbox
from probex.perturb import FeatureGroups, MaskPerturbation

__all__ = ["PerturbationCurve", "perturbation_curve", "deletion_auc", "insertion_auc",
           "random_attributions", "random_reference"]

_ROWS_PER_QUERY = 65_536


@dataclass(frozen=True)
class PerturbationCurve:
    """Deletion or insertion curves of n instances.

    Attributes:
        mode: ``"deletion"`` or ``"insertion"``.
        fractions: (T,) fraction of units removed (deletion) or inserted (insertion).
        values: (n, T) the model's output for the explained class along each curve.
        targets: (n,) the explained class (or output column).
    """

    mode: str
    fractions: np.ndarray
    values: np.ndarray
    targets: np.ndarray

    @property
    def auc(self) -> np.ndarray:
        """Area under each instance's curve (trapezoid over fractions), (n,)."""
        return np.trapezoid(self.values, self.fractions, axis=-1)

    @property
    def mean_auc(self) -> float:
        """Mean area over instances: lower is better for deletion, higher for insertion."""
        return float(self.auc.mean())

    @property
    def sem_auc(self) -> float:
        """Standard error of :attr:`mean_auc` over instances."""
        auc = self.auc
        return float(auc.std(ddof=1) / np.sqrt(auc.size)) if auc.size > 1 else float("nan")

    def plot(self, *, ax=None, label: str | None = None, **kwargs):
        """Mean curve with a band of +-1 standard error over instances; returns the Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]
        mean = self.values.mean(0)
        sem = self.values.std(0, ddof=1) / np.sqrt(len(self.values)) if len(self.values) > 1 \
            else np.zeros_like(mean)
        text = f"{label or self.mode} (AUC {self.mean_auc:.3f})"
        line = ax.plot(self.fractions, mean, label=text, **kwargs)[0]
        ax.fill_between(self.fractions, mean - sem, mean + sem, alpha=0.2,
                        color=line.get_color())
        verb = "removed" if self.mode == "deletion" else "inserted"
        ax.set_xlabel(f"fraction of features {verb}")
        ax.set_ylabel("model output for the explained class")
        return ax


def _baseline(baseline, background, replacement, n_features: int) -> torch.Tensor:
    if baseline is not None:
        value = as_tensor(baseline, "baseline")
        if value.shape != (n_features,):
            raise ValueError(f"baseline must have shape ({n_features},), got "
                             f"{tuple(value.shape)}")
        return value
    if background is None:
        raise ValueError("give baseline= (d,) values or background= data for the replacement")
    value = MaskPerturbation(background, replacement=replacement).baseline
    if value.shape != (n_features,):
        raise ValueError(f"background has {value.shape[0]} features but X has {n_features}")
    return value


def _unit_ids(feature_groups, n_features: int) -> torch.Tensor:
    groups = (feature_groups if isinstance(feature_groups, FeatureGroups)
              else FeatureGroups(feature_groups, n_features))
    if groups.n_features != n_features:
        raise ValueError(f"feature_groups cover {groups.n_features} features, the data have "
                         f"{n_features}")
    return groups.ids


def _targets(bb: BlackBox, X: torch.Tensor, target) -> torch.Tensor:
    n = X.shape[0]
    if bb.task == "regression":
        if not (isinstance(target, str) and target == "predicted") and target is not None:
            raise ValueError("for regression the output column is the BlackBox's target; "
                             "leave target='predicted'")
        return torch.zeros(n, dtype=torch.long)
    if isinstance(target, str):
        check_choice("target", target, ("predicted",))
        return bb.predict(X).argmax(-1).cpu()
    targets = torch.as_tensor(np.asarray(target)).reshape(-1)
    if targets.numel() == 1:
        targets = targets.expand(n)
    if targets.shape != (n,) or targets.is_floating_point():
        raise ValueError(f"target must be 'predicted', a class index or {n} class indices")
    if bool((targets < 0).any()):
        raise ValueError(f"target classes must be non-negative, got {int(targets.min())}")
    return targets.long()


def _outputs(bb: BlackBox, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The explained output of rows (n, T, d) with per-instance targets (n,) -> (n, T)."""
    flat = inputs.reshape(-1, inputs.shape[-1])
    if bb.task == "regression":
        out = bb(flat).reshape(inputs.shape[:-1])
        return out.cpu()
    probs = bb.predict(flat).reshape(*inputs.shape[:-1], -1).cpu()
    if int(targets.max()) >= probs.shape[-1]:
        raise ValueError(f"target class {int(targets.max())} but the model has "
                         f"{probs.shape[-1]} classes")
    return probs.gather(-1, targets.view(-1, 1, 1).expand(-1, probs.shape[1], 1)).squeeze(-1)


def perturbation_curve(bb, X, attributions, mode: str = "deletion", *, baseline=None,
                       background=None, replacement="mean", target="predicted",
                       feature_groups=None, n_steps: int | None = None,
                       order: str = "descending") -> PerturbationCurve:
    """Deletion or insertion curves of attributions (module docstring).

    Args:
        bb: the :class:`~probex.BlackBox` (or a model).
        X: (n, d) instances; attributions: (n, d) per feature, or (n, G) per group.
        mode: ``"deletion"`` (from x, replace units by the baseline) or ``"insertion"``
            (from the baseline, restore units of x).
        baseline: (d,) replacement values; else ``replacement`` of ``background`` (as
            :class:`~probex.perturb.MaskPerturbation`; default the background mean).
        target: ``"predicted"`` (the model's argmax class at x, n extra queries), a
            class index or one per instance. Regression: the BlackBox's output.
        feature_groups: units removed together (ids (d,) or index lists); per-feature
            attributions are averaged within a unit to rank it.
        n_steps: points after the start (default G, every unit); k_t = round(t G / n_steps).
        order: ``"descending"`` (most important first) or ``"ascending"`` (least first, the
            "negative perturbation" of Chefer et al., 2021).
    """
    check_choice("mode", mode, ("deletion", "insertion"))
    check_choice("order", order, ("descending", "ascending"))
    bb = as_blackbox(bb)
    X = as_matrix(X, "X", n_features=bb.n_features)
    n, d = X.shape
    bb.bind_features(d)
    ids = _unit_ids(feature_groups, d)
    n_units = int(ids.max()) + 1
    scores = as_matrix(attributions, "attributions")
    if scores.shape == (n, d):
        membership = torch.nn.functional.one_hot(ids, n_units).to(scores.dtype)
        scores = scores @ membership / membership.sum(0)
    elif scores.shape != (n, n_units):
        raise ValueError(f"attributions must have shape ({n}, {d}) or ({n}, {n_units}) "
                         f"(one per group); got {tuple(scores.shape)}")
    steps = n_units if n_steps is None else int(n_steps)
    if not 1 <= steps:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps}")
    counts = torch.round(torch.arange(steps + 1, dtype=torch.float64) * n_units / steps).long()
    b = _baseline(baseline, background, replacement, d)
    targets = _targets(bb, X, target)
    # rank of each unit: 0 = first to be removed / inserted
    sign = -1.0 if order == "descending" else 1.0
    ranks = torch.argsort(torch.argsort(sign * scores, dim=-1, stable=True), dim=-1)
    chunk = max(1, _ROWS_PER_QUERY // (steps + 1))
    values = []
    for start in range(0, n, chunk):
        rank = ranks[start:start + chunk][:, ids]  # (c, d) rank of each feature's unit
        touched = rank[:, None, :] < counts[None, :, None]  # (c, T, d)
        x = X[start:start + chunk, None, :]
        if mode == "deletion":
            inputs = torch.where(touched, b, x)
        else:
            inputs = torch.where(touched, x, b)
        values.append(_outputs(bb, inputs, targets[start:start + chunk]))
    fractions = (counts.to(torch.float64) / n_units).numpy()
    return PerturbationCurve(mode, fractions, torch.cat(values).numpy(), targets.numpy())


def deletion_auc(bb, X, attributions, **kwargs) -> PerturbationCurve:
    """Deletion ("positive perturbation") curves; ``.mean_auc``, lower is better."""
    return perturbation_curve(bb, X, attributions, "deletion", **kwargs)


def insertion_auc(bb, X, attributions, **kwargs) -> PerturbationCurve:
    """Insertion curves (the "negative" test here); ``.mean_auc``, higher is better."""
    return perturbation_curve(bb, X, attributions, "insertion", **kwargs)


def random_attributions(shape, seed: int = 0) -> np.ndarray:
    """Uniform random attributions of the given shape (a random ordering per instance)."""
    return np.random.default_rng(seed).random(shape)


def random_reference(bb, X, mode: str = "deletion", n_repeats: int = 5, seed: int = 0,
                     **kwargs) -> PerturbationCurve:
    """The curve of random orderings, averaged over ``n_repeats`` orderings per instance
    (each repeat costs a full curve of queries). ``kwargs`` as :func:`perturbation_curve`;
    the ranking units follow ``feature_groups``."""
    bb = as_blackbox(bb)
    X = as_matrix(X, "X", n_features=bb.n_features)
    if int(n_repeats) < 1:
        raise ValueError(f"n_repeats must be positive, got {n_repeats}")
    kwargs["target"] = _targets(bb, X, kwargs.get("target", "predicted"))  # queried once
    if bb.task == "regression":
        kwargs["target"] = "predicted"
    curves = [perturbation_curve(bb, X, random_attributions(X.shape, seed + r), mode, **kwargs)
              for r in range(int(n_repeats))]
    values = np.mean([c.values for c in curves], axis=0)
    return PerturbationCurve(mode, curves[0].fractions, values, curves[0].targets)
