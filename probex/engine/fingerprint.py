"""What a data-set run depends on, described so that a resumed run can be compared with
the first: the explainer's configuration, the call's options and the rows' values.

:func:`describe_explainer` walks an explainer's attributes and returns a flat dict of
dotted names to short, stable values: numbers and strings as they are, arrays, tensors,
networks and models by a SHA-256 of their contents. Quantities that change by use and
not by configuration (query counts, progress flags, training histories, sampler losses)
are left out, so an explainer that has already explained rows still matches. Two
descriptions are compared by :func:`differences`, which names what changed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import pickle
import re
import types

import numpy as np
import torch

__all__ = ["describe_explainer", "describe_value", "digest", "differences", "fingerprint",
           "rows_digest"]

#: attributes that change by use, not by configuration
_VOLATILE = frozenset({"n_queries", "n_outputs", "progress", "history_", "n_queries_fit_",
                       "losses", "info", "fit_seconds", "_lock", "_local"})
_MAX_DEPTH = 4
_OBJECT_ID = re.compile(r"_[0-9a-f]{9,16}$")  # names made from id(self) (Pyro param names)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # memory addresses in default reprs
_FUNCTIONS = (types.FunctionType, types.MethodType, types.BuiltinFunctionType,
              functools.partial)


def digest(data: bytes) -> str:
    """``sha256:`` and the first 16 hex digits of the SHA-256 of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def rows_digest(rows) -> str:
    """A digest of rows of data as given (numeric arrays, object arrays, lists of rows)."""
    if isinstance(rows, np.ndarray) and rows.dtype.kind in "biuf":
        array = np.ascontiguousarray(rows)
        return digest(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
    return digest(pickle.dumps(rows, protocol=4))


def describe_explainer(explainer) -> dict:
    """Flat description ``{dotted name: value}`` of an explainer's configuration."""
    out = {"class": f"{type(explainer).__module__}.{type(explainer).__qualname__}"}
    _walk(explainer, "", out, 0, {})
    return out


def describe_value(value):
    """A short, JSON-able, stable description of one value (hashes for big data)."""
    out = {}
    _walk(value, "value", out, _MAX_DEPTH, {})
    return out.get("value")


def differences(old: dict, new: dict, limit: int = 8) -> list[str]:
    """``"name: old -> new"`` for every entry that differs (at most ``limit``, then a
    count of the rest)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if _canonical(a) != _canonical(b):
            lines.append(f"{key}: {_short(a)} -> {_short(b)}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value, width: int = 60) -> str:
    text = value if isinstance(value, str) else _canonical(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _walk(value, name: str, out: dict, depth: int, seen: dict) -> None:
    """Describe ``value`` under ``name`` into ``out``, recursing into objects."""
    if value is None or isinstance(value, (bool, int, str, np.bool_, np.integer)):
        out[name] = _plain(value)
        return
    if isinstance(value, (float, np.floating)):
        out[name] = repr(float(value))
        return
    if isinstance(value, (torch.device, torch.dtype, np.dtype)):
        out[name] = str(value)
        return
    if isinstance(value, torch.Tensor):
        out[name] = _array(value.detach().cpu().numpy())
        return
    if isinstance(value, np.ndarray):
        out[name] = _array(value)
        return
    if isinstance(value, torch.nn.Module):
        state = {k: v.detach().cpu().numpy() for k, v in value.state_dict().items()}
        out[name] = f"{type(value).__name__} " + digest(pickle.dumps(
            sorted((k, _array(v)) for k, v in state.items()), protocol=4))
        return
    if _is_frame(value):
        import pandas as pd

        out[name] = f"{type(value).__name__} " + digest(
            pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        return
    if id(value) in seen:
        out[name] = f"<same as {seen[id(value)] or 'the explainer'}>"
        return
    if isinstance(value, (list, tuple)):
        if all(v is None or isinstance(v, (bool, int, str, float)) for v in value) \
                and len(value) <= 64:
            out[name] = [_plain(v) if not isinstance(v, float) else repr(v) for v in value]
        else:
            out[name] = f"{type(value).__name__}[{len(value)}] " + fingerprint(value)
        return
    if isinstance(value, _FUNCTIONS) or _is_model(value) or depth >= _MAX_DEPTH:
        label = getattr(value, "__qualname__", None) if isinstance(value, _FUNCTIONS) else None
        out[name] = f"{label or type(value).__name__} " + fingerprint(value)
        return
    seen[id(value)] = name
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif dataclasses.is_dataclass(value):
        items = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    elif hasattr(value, "__dict__"):
        items = list(vars(value).items())
        if name:
            out[name] = type(value).__name__
    else:
        out[name] = _ADDRESS.sub("", repr(value))
        return
    for key, item in items:
        if key in _VOLATILE:
            continue
        _walk(item, f"{name}.{key}" if name else key, out, depth + 1, seen)


def _plain(value):
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, str):
        return _OBJECT_ID.sub("_<id>", value)
    return value


def _array(array: np.ndarray) -> str:
    if array.dtype.kind == "O":
        return f"array{array.shape} " + digest(pickle.dumps(array.tolist(), protocol=4))
    if array.size <= 8 and array.ndim <= 1:
        return f"array{array.tolist()}"
    return f"array{array.shape} {array.dtype} " + rows_digest(array)


def fingerprint(value) -> str:
    """A digest of a value's contents that does not depend on the process: objects by
    their attributes, containers element by element, arrays by their bytes (a pickle's
    bytes would depend on which equal objects happen to be shared in memory)."""
    h = hashlib.sha256()
    _feed(value, h, set(), 0)
    return "sha256:" + h.hexdigest()[:16]


def _feed(value, h, active: set, depth: int) -> None:
    if value is None or isinstance(value, (bool, int, float, str, bytes, np.generic)):
        h.update(f"{type(value).__name__}:{_plain(value)!r};".encode())
        return
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.names:  # structured: field by field (padding bytes are garbage)
            h.update(f"struct{value.shape}".encode())
            for field in value.dtype.names:
                h.update(field.encode())
                _feed(np.ascontiguousarray(value[field]), h, active, depth + 1)
        elif value.dtype.kind == "O":
            h.update(f"O{value.shape}".encode())
            for item in value.ravel().tolist():
                _feed(item, h, active, depth + 1)
        else:
            h.update(rows_digest(value).encode())
        return
    if isinstance(value, (torch.device, torch.dtype, np.dtype, type)):
        h.update(f"{value};".encode())
        return
    if id(value) in active or depth > 64:
        h.update(b"<cycle>;")
        return
    active.add(id(value))
    try:
        h.update(f"<{type(value).__module__}.{type(value).__qualname__}>".encode())
        if isinstance(value, torch.nn.Module):
            _feed(dict(value.state_dict()), h, active, depth + 1)
        elif isinstance(value, dict):
            for key in sorted(value, key=repr):
                if key not in _VOLATILE:
                    h.update(f"{key!r}=".encode())
                    _feed(value[key], h, active, depth + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            for item in items:
                _feed(item, h, active, depth + 1)
        elif isinstance(value, _FUNCTIONS):
            h.update(_pickled(value).encode())
        elif hasattr(value, "__dict__"):
            _feed(vars(value), h, active, depth + 1)
        else:  # extension types (e.g. a fitted tree): their pickled state
            reduced = value.__reduce_ex__(4)
            _feed(reduced[1:] if isinstance(reduced, tuple) else reduced, h, active,
                  depth + 1)
    finally:
        active.discard(id(value))


def _pickled(value) -> str:
    try:
        import cloudpickle

        return digest(cloudpickle.dumps(value, protocol=4))
    except Exception:  # noqa: BLE001 - unpicklable: describe by type only
        return "<unpicklable>"


def _is_frame(value) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, (pd.DataFrame, pd.Series))


def _is_model(value) -> bool:
    """A user's fitted model (scikit-learn style): described by its pickled bytes."""
    return hasattr(value, "predict") and hasattr(value, "fit") and hasattr(value, "get_params")
