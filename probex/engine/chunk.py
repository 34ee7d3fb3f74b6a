"""One chunk of a data set, explained wherever it runs (this process or a Dask worker).

:func:`explain_chunk` is the task: it checks every row (numeric, the model's width,
finite), explains the good ones with the explainer's batched path using the data set's
row numbers as their random streams (``_explain_rows``), and, should the batch fail,
explains them one at a time so that one bad row costs only itself. Row i's numbers do not
depend on the rows it shares a chunk with, so any chunking, worker count or retry gives
the same bits. The result comes back as the bytes of one netCDF file (compact by
default: see :meth:`probex.Explanation.compact`) whose instance coordinate is the data
set's row numbers, plus the errors table; the caller writes the file.

The computation runs with one torch and one BLAS thread: parallelism comes from workers,
and a fixed thread count keeps floating-point reductions in a fixed order.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from probex.explainers._base import AmortizedExplainer
from probex.explanation import Explanation

__all__ = ["ChunkCall", "ChunkOutput", "explain_chunk", "check_rows", "one_thread",
           "fits_jointly", "AMORTIZED_BLOCK"]

STORES = ("compact", "full")
#: rows per forward pass of an amortized method (the default chunk size is a multiple)
AMORTIZED_BLOCK = 256


@dataclass(frozen=True)
class ChunkCall:
    """How every chunk is explained, resolved once through the method's own ``explain``.

    Attributes:
        n_samples: queries per instance (None: the explainer's; amortized: unused).
        target: None, an index or ``"predicted"`` (per-row targets travel with the chunk).
        options: the method's ``explain`` options, validated and completed.
        n_features: the model's input width d.
        feature_names: the d names (for error messages).
        store: ``"compact"`` or ``"full"`` (see :func:`probex.explain_dataset`).
    """

    n_samples: int | None
    target: object
    options: dict
    n_features: int
    feature_names: tuple
    store: str = "compact"


@dataclass
class ChunkOutput:
    """What a chunk task returns: the netCDF bytes (None when no row could be explained),
    their SHA-256, the rows explained and ``[row, message]`` for the others."""

    payload: bytes | None
    sha256: str | None
    explained: list
    errors: list = field(default_factory=list)
    n_queries: int = 0
    seconds: float = 0.0


@contextmanager
def one_thread():
    """Run a block with one torch thread and one BLAS/OpenMP thread, then restore."""
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)


def check_rows(values, rows, n_features: int, feature_names) -> tuple[list, np.ndarray, list]:
    """Split a chunk's rows into good and bad.

    Args:
        values: the chunk's rows: an (m, d) array, or any sequence of rows (ragged ones
            included).
        rows: (m,) data-set row numbers.

    Returns:
        (positions of the good rows, their values (k, d) float64, ``[row, message]`` for
        each bad row).
    """
    good, kept, errors = [], [], []
    for position, row in enumerate(values):
        number = int(rows[position])
        try:
            array = np.asarray(row, dtype=np.float64)
        except (TypeError, ValueError) as err:
            errors.append([number, f"not numeric: {err}"])
            continue
        if array.ndim != 1 or array.shape[0] != n_features:
            width = array.shape[0] if array.ndim == 1 else f"shape {array.shape}"
            errors.append([number, f"has {width} values but the model expects {n_features} "
                                   "features"])
            continue
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            names = ", ".join(str(feature_names[j]) for j in bad[:5])
            more = f" and {bad.size - 5} more" if bad.size > 5 else ""
            errors.append([number, f"missing or infinite values in {names}{more}"])
            continue
        good.append(position)
        kept.append(array)
    X = np.stack(kept) if kept else np.zeros((0, n_features))
    return good, X, errors


def explain_chunk(explainer, call: ChunkCall, rows, values, targets=None) -> ChunkOutput:
    """Explain one chunk of a data set (the task of every engine).

    Args:
        explainer: a local or amortized explainer (fitted).
        call: the resolved call.
        rows: (m,) the data set's row numbers of the chunk (they seed its streams).
        values: the chunk's rows (see :func:`check_rows`).
        targets: (m,) per-row targets, or None for ``call.target``.
    """
    start = time.perf_counter()
    rows = np.asarray(rows, dtype=np.int64)
    with one_thread():
        good, X, errors = check_rows(values, rows, call.n_features, call.feature_names)
        chunk_targets = None if targets is None else np.asarray(targets)[good]
        explanation, explained, failed = _explain_isolating(
            explainer, torch.as_tensor(X), rows[good], call, chunk_targets)
    errors = sorted(errors + failed)
    if explanation is None:
        return ChunkOutput(None, None, [], errors, 0, time.perf_counter() - start)
    if call.store == "compact":
        explanation = explanation.compact()
    payload = _netcdf_bytes(explanation.with_instances(explained))
    return ChunkOutput(payload, hashlib.sha256(payload).hexdigest(), explained, errors,
                       explanation.n_queries, time.perf_counter() - start)


def _explain_isolating(explainer, X: torch.Tensor, rows: np.ndarray, call: ChunkCall,
                       targets) -> tuple[Explanation | None, list, list]:
    """The batch explained at once; if that fails, row by row, recording the failures.

    Returns (the explanation or None, the rows it explains, ``[row, message]`` failures).
    """
    if len(rows) == 0:
        return None, [], []
    try:
        return _explain(explainer, X, rows, call, targets), rows.tolist(), []
    except Exception:  # noqa: BLE001 - isolate the failing rows below
        pass
    parts, failed, kept = [], [], []
    for i, row in enumerate(rows):
        one_target = None if targets is None else targets[i:i + 1]
        try:
            parts.append(_explain(explainer, X[i:i + 1], rows[i:i + 1], call, one_target))
            kept.append(int(row))
        except Exception as err:  # noqa: BLE001 - a row's failure is recorded, not raised
            failed.append([int(row), f"{type(err).__name__}: {err}"])
    if not parts:
        return None, [], failed
    return Explanation.concat(parts), kept, failed


def _explain(explainer, X, rows, call: ChunkCall, targets) -> Explanation:
    if isinstance(explainer, AmortizedExplainer):
        return _explain_in_blocks(explainer, X, rows, call, targets)
    if fits_jointly(explainer, call.options) and len(rows) > 1:
        return Explanation.concat([
            _explain(explainer, X[i:i + 1], rows[i:i + 1], call,
                     None if targets is None else targets[i:i + 1])
            for i in range(len(rows))])
    target = call.target if targets is None else targets
    return explainer._explain_rows(X, rows, False, call.n_samples, target, dict(call.options))


def fits_jointly(explainer, options: dict) -> bool:
    """Whether the method runs one sampler or optimiser (SVI, NUTS, MAP) over a whole
    batch of instances: a row's draws then depend on the rows beside it, so a data set's
    rows are explained one at a time (slower, but the same under any chunking)."""
    from probex.inference.runners import RUNNER_TYPES

    return (isinstance(getattr(explainer, "inference", None), RUNNER_TYPES)
            and explainer._is_vectorized(options))


def _explain_in_blocks(explainer, X, rows, call: ChunkCall, targets) -> Explanation:
    """An amortized method's forward passes, one per block of ``AMORTIZED_BLOCK`` rows
    aligned to the data set's row numbers, each row at its own place in a zero-padded
    block: a float32 network's output for a row then does not depend on which rows share
    its chunk (a matrix product's rounding depends on the batch's size and the row's
    place in it)."""
    parts = []
    for start in np.unique(rows // AMORTIZED_BLOCK) * AMORTIZED_BLOCK:
        inside = (rows >= start) & (rows < start + AMORTIZED_BLOCK)
        places = torch.as_tensor(rows[inside] - start)
        block = torch.zeros(AMORTIZED_BLOCK, X.shape[1], dtype=X.dtype)
        block[places] = X[torch.as_tensor(inside)]
        target = call.target
        if targets is not None:
            target = np.full(AMORTIZED_BLOCK, targets[inside][0])
            target[places.numpy()] = targets[inside]
        explanation = explainer._explain_rows(
            block, np.arange(start, start + AMORTIZED_BLOCK), False, None, target,
            dict(call.options))
        parts.append(explanation.take(places.numpy()))
    return parts[0] if len(parts) == 1 else Explanation.concat(parts)


def _netcdf_bytes(explanation: Explanation) -> bytes:
    with tempfile.TemporaryDirectory(prefix="probex-chunk-") as folder:
        path = Path(folder) / "chunk.nc"
        explanation.to_netcdf(path)
        return path.read_bytes()
