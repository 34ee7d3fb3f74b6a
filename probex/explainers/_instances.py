"""What every explainer does to its input before the method's own work.

- :func:`as_instances` / :func:`as_background`: one row (d,) or a batch (B, d) of numpy,
  torch or pandas data as a float64 tensor, DataFrames aligned to the black box's feature
  names by column name (and refused, naming the missing and extra columns, when they
  cannot be).
- :func:`resolve_targets`: which output each instance explains, the one rule for every
  method.
- :class:`RowStreams`: one random stream per instance, from ``(seed, row index)``.
- :func:`warn_unmaskable`: instances a mask method cannot explain meaningfully.
- :func:`keep_perturbations` and :func:`release_freed_memory`: what a batch keeps, and
  handing a finished chunk's memory back.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from probex._checks import as_tensor
from probex.blackbox import BlackBox
from probex.blackbox_outputs import check_target
from probex.diagnostics import DataWarning

__all__ = ["RowStreams", "as_instances", "as_background", "resolve_targets",
           "warn_unmaskable", "keep_perturbations", "KEEP_PERTURBATIONS_MAX",
           "release_freed_memory"]

#: perturbations (elements of z) a call stores by default: 4M float64 = 32 MB
KEEP_PERTURBATIONS_MAX = 2**22


def keep_perturbations(shape) -> bool:
    """Whether perturbations of shape (B, n, d) are small enough to store."""
    return int(np.prod(shape)) <= KEEP_PERTURBATIONS_MAX


class RowStreams:
    """One random stream per instance, derived from ``(seed, row index)``.

    Args:
        seed: the explainer's seed.
        rows: (B,) row indices of the instances (0..B-1 for a plain ``explain`` call;
            the data set's row numbers when a data set is explained in chunks).
    """

    def __init__(self, seed: int, rows):
        self.seed = int(seed)
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self._seeds: np.ndarray | None = None

    @property
    def seeds(self) -> np.ndarray:
        """(B,) int64 seed of each instance's stream, derived on first use (a method that
        draws nothing, such as an amortized forward pass, pays nothing for them)."""
        if self._seeds is None:
            self._seeds = np.array([np.random.SeedSequence([self.seed, int(r)]).generate_state(
                1, dtype=np.uint64)[0] >> np.uint64(1) for r in self.rows], dtype=np.int64)
        return self._seeds

    def __len__(self) -> int:
        return len(self.rows)

    def generator(self, i: int) -> torch.Generator:
        """A fresh CPU generator for instance ``i`` (position in the batch)."""
        return torch.Generator().manual_seed(int(self.seeds[i]))

    def generators(self) -> list[torch.Generator]:
        return [self.generator(i) for i in range(len(self))]

    def subset(self, index) -> RowStreams:
        """The streams of instances ``index`` (positions in the batch)."""
        return RowStreams(self.seed, self.rows[index])


def as_instances(bb: BlackBox, x, name: str = "x") -> tuple[torch.Tensor, bool]:
    """One instance (d,) or a batch (B, d) as a float64 tensor (B, d) and whether it
    was a single instance. DataFrames and Series are aligned to the black box's feature
    names by name (their names are adopted when the black box has none)."""
    x = _aligned_values(bb, x, name)
    tensor = as_tensor(x, name)
    single = tensor.ndim == 1
    if single:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 2:
        raise ValueError(f"{name} must have shape (d,) or (n_instances, d); got "
                         f"{tuple(tensor.shape)}")
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    if bb.n_features is not None and tensor.shape[1] != bb.n_features:
        raise ValueError(f"{name} has {tensor.shape[1]} features but the model expects "
                         f"{bb.n_features}")
    return tensor, single


def as_background(bb: BlackBox, background, name: str = "background"):
    """Reference data (N, d) with DataFrame columns aligned as in :func:`as_instances`;
    ``None`` passes through."""
    if background is None:
        return None
    return _aligned_values(bb, background, name)


def _aligned_values(bb: BlackBox, data, name: str):
    """numpy values of ``data``, reordered by column name when it is pandas."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return data
    if isinstance(data, pd.Series):
        frame = data.to_frame().T
        return _align_frame(bb, frame, name)[0]
    if isinstance(data, pd.DataFrame):
        return _align_frame(bb, data, name)
    return data


def _align_frame(bb: BlackBox, frame, name: str) -> np.ndarray:
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise ValueError(f"{name} has duplicate column names")
    if not bb.has_feature_names:
        bb.adopt_feature_names(columns)
        return frame.to_numpy()
    expected = bb.feature_names
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"not features of the model {extra}")
        raise ValueError(f"{name}'s columns do not match the model's features: "
                         + "; ".join(parts))
    frame = frame.copy()
    frame.columns = columns
    return frame[expected].to_numpy()


def resolve_targets(bb: BlackBox, target, X: torch.Tensor, default="class 1",
                    predicted=None) -> torch.Tensor:
    """The output each instance explains, (B,) long: the one rule for every method.

    ``target`` (the call's) wins; else the black box's own ``target``; else the method's
    ``default``: ``"class 1"`` (class 1 for classifiers, as lime; output 0 for
    regression) or ``"predicted"``. A target is an index, one index per instance, or
    ``"predicted"`` (each instance's most probable class, from ``predicted(X)`` or from
    B queries of the black box).
    """
    n = X.shape[0]
    if target is None:
        target = bb.target
    if target is None:
        if default == "predicted" and bb.task == "classification":
            target = "predicted"
        else:
            target = 1 if bb.task == "classification" else 0
    if isinstance(target, str):
        check_target(target)
        if bb.task != "classification":
            raise ValueError("target='predicted' needs a classifier; for regression give "
                             "the output index")
        classes = predicted(X) if predicted is not None else bb.predict(X).argmax(-1)
        return torch.as_tensor(classes).reshape(-1).long().cpu()
    if isinstance(target, (torch.Tensor, np.ndarray, list, tuple)):
        values = np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target)
        if values.ndim == 0:
            return resolve_targets(bb, values.item(), X, default, predicted)
        if values.ndim != 1 or values.shape[0] != n:
            raise ValueError(f"target must be one index, 'predicted' or {n} indices (one per "
                             f"instance); got shape {values.shape}")
        for value in values:
            check_target(value.item() if hasattr(value, "item") else value)
        targets = torch.as_tensor(values.astype(np.int64))
    else:
        targets = torch.full((n,), check_target(target), dtype=torch.long)
    if bb.n_outputs is not None and bb.task == "classification" \
            and int(targets.max()) >= bb.n_outputs:
        raise ValueError(f"target={int(targets.max())} but the model has {bb.n_outputs} "
                         "classes")
    return targets


def warn_unmaskable(X: torch.Tensor, baseline: torch.Tensor, names: list[str]) -> None:
    """A DataWarning when instances equal the replacement baseline in some features:
    masking those changes nothing, so every mask method attributes 0 to them whatever
    the model does (e.g. a background equal to x gives a confident all-zero answer)."""
    same = (X == baseline.to(X)).any(0)
    if bool(same.any()):
        listed = [names[j] for j in torch.nonzero(same)[:, 0].tolist()]
        shown = ", ".join(repr(n) for n in listed[:8]) + (" ..." if len(listed) > 8 else "")
        warnings.warn(f"{len(listed)} feature(s) equal the replacement baseline in some "
                      f"instance(s) ({shown}): masking them changes nothing, so their "
                      "attributions are 0 by construction whatever the model; choose "
                      "another background or replacement", DataWarning, stacklevel=4)


def release_freed_memory() -> None:
    """Hand memory freed by a finished chunk back to the system (glibc's ``malloc_trim``;
    elsewhere a no-op). Without it glibc keeps the freed blocks of each chunk's large
    arrays, and a batched explanation's resident memory grows by about one chunk's
    arrays per chunk although nothing holds them."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)
