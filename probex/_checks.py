"""Input validation shared by the public entry points.

Every public function that accepts user data converts it here, so that bad input fails
early with a message that names the argument and the problem instead of a deep torch
traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = [
    "as_tensor",
    "as_matrix",
    "as_row",
    "check_finite",
    "check_choice",
    "resolve_device",
    "feature_names_or_default",
]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``device`` into a ``torch.device``, failing clearly when CUDA is absent."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a valid torch device") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return dev


def check_choice(name: str, value, choices: Sequence) -> None:
    """Raise ``ValueError`` if ``value`` is not one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"unknown {name}={value!r}; expected one of {options}")


def check_finite(tensor: torch.Tensor, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` if ``tensor`` holds NaN or infinite values."""
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        bad = ~torch.isfinite(tensor)
        n_nan = int(torch.isnan(tensor).sum())
        n_inf = int(bad.sum()) - n_nan
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{what} contains {n_nan} NaN and {n_inf} infinite value(s) "
            f"(first at index {first if len(first) > 1 else first[0]})"
        )


def as_tensor(
    data,
    name: str,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Convert numpy / pandas / torch / nested lists to a finite floating tensor."""
    if isinstance(data, torch.Tensor):
        tensor = data.detach()
    else:
        if hasattr(data, "to_numpy"):  # pandas
            data = data.to_numpy()
        try:
            array = np.array(data, dtype=np.float64)  # a writable copy (pandas 3 is read-only)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} could not be converted to a numeric array: {err}") from err
        tensor = torch.from_numpy(array)
    if tensor.is_complex():
        raise ValueError(f"{name} must be real-valued, got dtype {tensor.dtype}")
    tensor = tensor.to(dtype=dtype, device=device)
    check_finite(tensor, name)
    return tensor


def as_matrix(data, name: str, n_features: int | None = None, **kwargs) -> torch.Tensor:
    """Convert ``data`` to a finite 2-D tensor of shape (n_rows, n_features)."""
    tensor = as_tensor(data, name, **kwargs)
    if tensor.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_rows, n_features); got shape {tuple(tensor.shape)}"
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    if n_features is not None and tensor.shape[1] != n_features:
        raise ValueError(
            f"{name} has {tensor.shape[1]} columns but the model expects {n_features} features"
        )
    return tensor


def as_row(data, name: str, n_features: int | None = None, **kwargs) -> torch.Tensor:
    """Convert a single instance to a finite 1-D tensor of shape (n_features,)."""
    tensor = as_tensor(data, name, **kwargs)
    if tensor.ndim == 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim != 1:
        raise ValueError(
            f"{name} must be one instance of shape (n_features,); got shape {tuple(tensor.shape)}"
        )
    if n_features is not None and tensor.shape[0] != n_features:
        raise ValueError(
            f"{name} has {tensor.shape[0]} features but the model expects {n_features}"
        )
    return tensor


def feature_names_or_default(names, n_features: int) -> list[str]:
    """Validate user feature names, or make ``x0 .. x{d-1}``."""
    if names is None:
        return [f"x{j}" for j in range(n_features)]
    names = [str(n) for n in names]
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} entries for {n_features} features")
    if len(set(names)) != len(names):
        raise ValueError("feature_names must be unique")
    return names
