"""What :meth:`probex.explainers.lex.LEX.fit` is fitted to: the targets of a fit.

:func:`fit_targets` gives the black box's class probabilities (post hoc LEX) or the
checked class labels (in situ); :func:`is_model` tells a model passed where labels go
(the deprecated ``fit(X, model)``) from labels.
"""

from __future__ import annotations

import numpy as np
import torch

from probex.blackbox import BlackBox

__all__ = ["fit_targets", "is_model"]


def fit_targets(bb: BlackBox | None, X: torch.Tensor, y, n_classes: int | None
                ) -> tuple[BlackBox | None, torch.Tensor, int, int]:
    """(black box or None, targets, rows queried, number of classes): float32
    probabilities (n, C) of the black box ``bb``, or long labels ``y`` (n,) when there is
    none, the black-box rows spent computing them, and C."""
    if bb is not None:
        if y is not None:
            raise ValueError("this LEX explains a black box: fit(X) takes no labels")
        before = bb.n_queries
        probs = bb.predict(X).to(torch.float32).cpu()
        return bb, probs, bb.n_queries - before, probs.shape[1]
    if y is None:
        raise ValueError("LEX without a model learns from labels: call fit(X, y), or "
                         "build LEX(model, ...) to explain a black box")
    labels = np.asarray(y)
    if labels.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.number) or not np.all(np.isfinite(labels)) \
            or np.any(labels != np.round(labels)) or labels.min() < 0:
        raise ValueError("y must hold non-negative integers (class indices)")
    k = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    if k < 2 or labels.max() >= k:
        raise ValueError(f"labels must lie in 0..n_classes-1 with n_classes >= 2 (got "
                         f"max label {int(labels.max())}, n_classes={k})")
    return None, torch.as_tensor(labels.astype(np.int64)), 0, k


def is_model(value) -> bool:
    """Whether ``value`` is a model (black box, torch module, classifier, callable)."""
    return isinstance(value, (BlackBox, torch.nn.Module)) or hasattr(value, "predict_proba") \
        or (callable(value) and not hasattr(value, "shape"))
