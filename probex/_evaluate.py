"""Calling a model on rows of inputs, in bounded chunks, with validated outputs.

Shared by the ground truths of :mod:`probex.metrics` and the Shapley estimator of
:mod:`probex.inference.shapley`: both send many masked or noised copies of an instance to
a callable ``f`` mapping (n, d) inputs to (n,) outputs (a :class:`probex.BlackBox` is
such a callable; plain callables receive float64 numpy arrays).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["evaluate_rows", "evaluate_gradients", "check_chunk_size", "as_instances",
           "as_baseline"]


def _to_numpy(out, what: str) -> np.ndarray:
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    try:
        return np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must return a numeric array, got {type(out).__name__}") from err


def evaluate_rows(f: Callable, rows: np.ndarray, what: str = "f") -> np.ndarray:
    """``f(rows)`` as a finite float64 array of shape (n,), for rows (n, d)."""
    if not callable(f):
        raise TypeError(f"{what} must be a callable mapping (n, d) inputs to (n,) outputs")
    out = _to_numpy(f(rows), what)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (rows.shape[0],):
        raise ValueError(
            f"{what} must map ({rows.shape[0]}, {rows.shape[1]}) inputs to ({rows.shape[0]},) "
            f"outputs (one number per row; select a class first), got shape {out.shape}"
        )
    if not np.isfinite(out).all():
        raise ValueError(f"{what} returned {int((~np.isfinite(out)).sum())} non-finite value(s)")
    return out


def evaluate_gradients(gradient, rows: np.ndarray) -> np.ndarray:
    """Gradients (n, d) at rows (n, d): a BlackBox's ``.gradient`` or a callable's output."""
    if hasattr(gradient, "gradient") and callable(gradient.gradient):
        out = _to_numpy(gradient.gradient(rows)[1], "gradient")
    elif callable(gradient):
        out = _to_numpy(gradient(rows), "gradient")
    else:
        raise TypeError("gradient must be a probex.BlackBox or a callable mapping (n, d) inputs "
                        "to (n, d) gradients")
    if out.shape != rows.shape:
        raise ValueError(f"gradient must return shape {rows.shape}, got {out.shape}")
    if not np.isfinite(out).all():
        raise ValueError(f"gradient returned {int((~np.isfinite(out)).sum())} non-finite "
                         "value(s)")
    return out


def check_chunk_size(chunk_size) -> int:
    """A positive integer number of rows per model call."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def _as_array(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} could not be converted to a numeric array: {err}") from err
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array


def as_instances(x) -> tuple[np.ndarray, bool]:
    """x (d,) or (B, d) as a float64 (B, d) array, and whether it was a single row."""
    x = _as_array(x, "x")
    if x.ndim not in (1, 2) or x.shape[-1] < 1:
        raise ValueError(f"x must have shape (d,) or (n_instances, d), got {x.shape}")
    return (x[None, :], True) if x.ndim == 1 else (x, False)


def as_baseline(baseline, n_features: int) -> np.ndarray:
    """The replacement values of masked features as a float64 (d,) array."""
    baseline = _as_array(baseline, "baseline")
    if baseline.shape != (n_features,):
        raise ValueError(f"baseline must have shape ({n_features},) like x's rows, "
                         f"got {baseline.shape}")
    return baseline
