"""Input validation shared by the public entry points.

Every public function that accepts user data converts it here, so that bad input fails
early with a message that names the argument and the problem instead of a deep torch
traceback.
"""

from __future__ import annotations

import math
import numbers
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
    "check_count",
    "check_seed",
    "check_probability",
    "check_positive",
    "MAX_SEED",
    "check_memory",
    "format_bytes",
]

MAX_SEED = 2**32  # seeds are non-negative integers below this (numpy's and torch's range)


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


def check_count(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum], or a ValueError naming ``name``.

    Only integers count (``numbers.Integral``: int, numpy integers); floats, strings and
    booleans are refused, so a count never silently truncates.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value} is larger than the most allowed, {maximum}")
    return value


def check_seed(seed) -> int:
    """A seed as a non-negative integer below 2**32, or a ValueError naming ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not (
            0 <= int(seed) < MAX_SEED):
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    return int(seed)


def check_probability(name: str, value, *, open_interval: bool = True) -> float:
    """A probability in (0, 1) (or [0, 1] with ``open_interval=False``) as a float."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}") from None
    inside = 0 < value < 1 if open_interval else 0 <= value <= 1
    if not inside:
        bounds = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must be in {bounds}, got {value!r}")
    return value


def check_positive(name: str, value, *, allow_none: bool = False) -> float | None:
    """A positive finite number as a float (``None`` passes through if allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number


def check_finite(tensor: torch.Tensor, what: str) -> None:
    """Raise ``ValueError`` naming ``what`` if ``tensor`` holds NaN or infinite values."""
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        bad = ~torch.isfinite(tensor)
        n_nan = int(torch.isnan(tensor).sum())
        n_inf = int(bad.sum()) - n_nan
        where = ""
        if tensor.ndim:
            first = tuple(int(i) for i in bad.nonzero()[0])
            where = f" (first at index {first if len(first) > 1 else first[0]})"
        raise ValueError(f"{what} contains {n_nan} NaN and {n_inf} infinite value(s){where}")


def as_tensor(
    data,
    name: str,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Convert numpy / pandas / torch / nested lists to a finite floating tensor.

    Refused with a ValueError naming ``name``: complex numbers (the imaginary part would be
    lost), strings and other non-numeric data (``'1.5'`` is not silently parsed), ragged
    lists, NaN and infinite values. Booleans count as 0 and 1.
    """
    if isinstance(data, torch.Tensor):
        tensor = data.detach()
        if tensor.is_complex():
            raise ValueError(f"{name} must be real-valued, got dtype {tensor.dtype}")
    else:
        if hasattr(data, "to_numpy"):  # pandas
            data = data.to_numpy()
        try:
            array = np.asarray(data)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} could not be converted to a numeric array: {err}") from err
        kind = array.dtype.kind
        if kind == "c":
            raise ValueError(f"{name} must be real-valued, got complex numbers")
        if kind == "O":  # mixed objects: accept only real numbers
            flat = array.reshape(-1)
            bad = [v for v in flat if isinstance(v, (complex, str, bytes)) or
                   not isinstance(v, (numbers.Real, np.number))]
            if bad:
                raise ValueError(f"{name} must hold real numbers only; found {bad[0]!r} "
                                 f"({type(bad[0]).__name__})")
        elif kind not in "biuf":
            what = {"U": "strings", "S": "bytes", "M": "dates",
                    "m": "time deltas"}.get(kind, f"dtype {array.dtype}")
            raise ValueError(f"{name} must be numeric, got {what}")
        try:
            array = np.array(array, dtype=np.float64)  # a writable copy (pandas 3 is read-only)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} could not be converted to a numeric array: {err}") from err
        tensor = torch.from_numpy(array)
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
    bad = [n for n in names if any(ord(c) < 32 or ord(c) == 127 for c in n) or not n.strip()]
    if bad:
        raise ValueError(f"feature_names must be printable and non-empty; got {bad[0]!r} "
                         "(control characters such as NUL cannot be saved to netCDF)")
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} entries for {n_features} features")
    if len(set(names)) != len(names):
        raise ValueError("feature_names must be unique")
    return names


def format_bytes(n_bytes: float) -> str:
    """A byte count for people: '3.2 GB'."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n_bytes) < 1000 or unit == "PB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.3g} PB"


def _physical_memory() -> int | None:
    import os

    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not available on this platform
        return None


def check_memory(what: str, n_bytes: float, fraction: float = 0.5) -> None:
    """Refuse, before allocating, work whose arrays need more than ``fraction`` of this
    machine's physical memory, with a ValueError stating the estimate."""
    total = _physical_memory()
    if total is not None and n_bytes > fraction * total:
        raise ValueError(f"{what} needs about {format_bytes(n_bytes)} of memory, more than "
                         f"{fraction:.0%} of this machine's {format_bytes(total)}; lower it")
