"""Scores of instance-wise feature selections against ground-truth relevant features.

For one instance with selected set S and relevant set T (L2X Sec. 4.1; INVASE Sec. 5.1):

    TPR = |S & T| / |T|,   FDR = |S \\ T| / |S| (0 when S is empty),
    F1  = 2 |S & T| / (|S| + |T|) (1 when both are empty),

reported as means over instances (as in the papers), or per instance with
``average=False``. :func:`selected_feature_accuracy` measures how much of the prediction
the selection carries: the accuracy of a predictor that sees only the selected features
(the others replaced by a fill value).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "true_positive_rate",
    "false_discovery_rate",
    "selection_f1",
    "selection_report",
    "selected_feature_accuracy",
]


def _as_masks(selected, relevant):
    selected, relevant = np.asarray(selected), np.asarray(relevant)
    if selected.shape != relevant.shape or selected.ndim not in (1, 2):
        raise ValueError(f"selected {selected.shape} and relevant {relevant.shape} must be "
                         "boolean arrays of the same shape (d,) or (n, d)")
    for name, a in (("selected", selected), ("relevant", relevant)):
        if a.dtype != bool and not np.isin(a, (0, 1)).all():
            raise ValueError(f"{name} must hold booleans or 0/1 values")
    return np.atleast_2d(selected.astype(bool)), np.atleast_2d(relevant.astype(bool))


def _counts(selected, relevant):
    s, t = _as_masks(selected, relevant)
    tp = (s & t).sum(1).astype(float)
    return tp, s.sum(1).astype(float), t.sum(1).astype(float)


def _reduce(values, average):
    return float(values.mean()) if average else values


def true_positive_rate(selected, relevant, average: bool = True):
    """|S & T| / |T| per instance (instances with no relevant feature count as 1)."""
    tp, _, n_true = _counts(selected, relevant)
    return _reduce(np.where(n_true > 0, tp / np.maximum(n_true, 1), 1.0), average)


def false_discovery_rate(selected, relevant, average: bool = True):
    """|S \\ T| / |S| per instance (0 for an empty selection)."""
    tp, n_sel, _ = _counts(selected, relevant)
    return _reduce(np.where(n_sel > 0, (n_sel - tp) / np.maximum(n_sel, 1), 0.0), average)


def selection_f1(selected, relevant, average: bool = True):
    """2 |S & T| / (|S| + |T|) per instance (1 when both sets are empty)."""
    tp, n_sel, n_true = _counts(selected, relevant)
    total = n_sel + n_true
    return _reduce(np.where(total > 0, 2 * tp / np.maximum(total, 1), 1.0), average)


def selection_report(selected, relevant) -> dict:
    """Mean TPR, FDR, F1 and mean selection size of a batch of selections."""
    _, n_sel, _ = _counts(selected, relevant)
    return {"tpr": true_positive_rate(selected, relevant),
            "fdr": false_discovery_rate(selected, relevant),
            "f1": selection_f1(selected, relevant),
            "size": float(n_sel.mean())}


def selected_feature_accuracy(predict, X, selected, y, fill=0.0) -> float:
    """Accuracy of ``predict`` on inputs that keep only the selected features.

    Args:
        predict: callable (n, d) -> class probabilities (n, C) or labels (n,).
        X: (n, d) inputs; selected: (n, d) booleans; y: (n,) true labels.
        fill: value(s) for the unselected features: a scalar, a (d,) vector (e.g. the
            training mean) or an (n, d) array of imputations.
    """
    X = np.asarray(X, dtype=float)
    s, _ = _as_masks(selected, selected)
    y = np.asarray(y)
    if X.ndim != 2 or s.shape != X.shape or y.shape != (X.shape[0],):
        raise ValueError(f"shapes do not match: X {X.shape}, selected {s.shape}, y {y.shape}")
    masked = np.where(s, X, np.broadcast_to(np.asarray(fill, dtype=float), X.shape))
    out = np.asarray(predict(masked))
    if out.ndim == 2:
        out = out.argmax(1)
    if out.shape != y.shape:
        raise ValueError(f"predict returned shape {out.shape}; expected (n, C) or (n,)")
    return float((out == y).mean())
