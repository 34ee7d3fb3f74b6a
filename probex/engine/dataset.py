"""Explain a whole data set: chunked, resumable, in this process or on a Dask cluster.

    e = px.explain_dataset(explainer, X, out="run/", chunk_size=500)           # laptop
    e = px.explain_dataset(explainer, X, out="run/", client=Client(cluster))   # Dask
    e.mean, e.sd, e.hdi(0.95), e.to_dataframe(), e.errors

Row i of ``X`` is explained with its own random stream derived from (seed, i), and its
numbers do not depend on the rows sharing its batch, so the result for row i is the
same, bit for bit, whether the data set ran serially, in chunks of 7 or 700, on one
worker or eight, at once or over several resumed runs (given a model whose output for a
row does not depend on the rows queried with it, e.g. tree ensembles; a float32 network
as the black box may differ in the last bits between chunkings).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from probex._checks import check_choice, check_count
from probex._version import __version__
from probex.engine.chunk import STORES, ChunkCall, ChunkOutput
from probex.engine.engines import ChunkTask, connect, run_in_process, run_on_dask
from probex.engine.fingerprint import describe_explainer, describe_value, digest, rows_digest
from probex.engine.manifest import ChunkRecord, Manifest
from probex.engine.storage import DatasetExplanation, remove_stale_temporaries, write_chunk
from probex.explainers._base import AmortizedExplainer, Explainer
from probex.explainers._instances import _aligned_values

__all__ = ["explain_dataset"]


def explain_dataset(explainer, X, *, out, chunk_size: int = 1024, client=None,
                    resume: bool = True, progress: bool | None = None,
                    n_samples: int | None = None, target=None, rows=None,
                    store: str = "compact", retries: int = 2,
                    **options) -> DatasetExplanation:
    """Explain every row of ``X`` in chunks, each written to its own file in ``out``.

    Args:
        explainer: a local explainer (BayesLIME, BayesSHAP, ...) or a fitted amortized one
            (FEX, LEX: forward passes over aligned blocks of 256 rows, no black-box
            queries). Surrogates sampled by SVI/NUTS/MAP are fitted one row at a time
            (a joint fit over a batch depends on the batch).
        X: (n, d) rows: numpy, torch, a DataFrame (aligned by column name) or a sequence
            of rows; rows that are not numeric, have the wrong width or non-finite values
            are recorded in the errors table and skipped.
        out: the output directory (created): ``manifest.json`` and ``chunks/``.
        chunk_size: rows per chunk (per task). Memory per worker grows with it: a local
            method holds a few arrays of chunk_size x n_samples x d float64 at once
            (measured: ~3.5 of them for BayesLIME).
        client: None (this process), a ``dask.distributed.Client`` or a scheduler
            address: chunks become tasks on that cluster.
        resume: keep the chunks of an earlier run in ``out`` whose files are intact and
            compute the rest; refuses, naming the difference, if that run's explainer,
            options, rows or data differ. ``False`` starts over (old chunk files go).
        progress: a progress bar over rows (None: only on a terminal).
        n_samples, target, options: as the explainer's ``explain`` (``target`` may also
            give one index per row of ``X``).
        rows: a ``slice``/``range`` of ``X`` to explain (default all); rows keep their
            numbers in ``X`` (and their random streams).
        store: ``"compact"`` (default: closed-form marginals, or draws without the
            perturbations; see :meth:`probex.Explanation.compact`) or ``"full"`` (the
            whole InferenceData of every row).
        retries: extra attempts of a Dask task that raised.

    Returns:
        a :class:`~probex.engine.DatasetExplanation` opened lazily over the chunk files,
        instances labelled by row number, with ``errors`` (row, chunk, message).

    Raises:
        RuntimeError: if whole chunks failed (their rows are then missing); rerunning the
            same call resumes with them.
    """
    if not isinstance(explainer, Explainer):
        raise TypeError(f"explainer must be a probex explainer, got {type(explainer).__name__}")
    chunk_size = check_count("chunk_size", chunk_size)
    check_choice("store", store, STORES)
    retries = check_count("retries", retries, minimum=0)
    folder = Path(out)
    values, n_total = _row_values(explainer, X)
    selected = _selection(rows, n_total)
    n_features, names = _width(explainer, values)
    targets = _per_row_targets(target, n_total)
    call = _resolve_call(explainer, n_samples, target, targets, options, n_features, names,
                         store)
    header = _header(explainer, call, target, selected, chunk_size, store)
    bounds = [(i, s, min(s + chunk_size, selected.stop))
              for i, s in enumerate(range(selected.start, selected.stop, chunk_size))]
    digests = {i: rows_digest(values[s:e]) for i, s, e in bounds}
    manifest = _open_manifest(folder, header, resume, digests)
    (folder / "chunks").mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder, len(bounds))
    manifest.complete = False
    manifest.save()
    todo = [(i, s, e) for i, s, e in bounds if not manifest.is_done(i, digests[i])]
    tasks = (ChunkTask(i, s, e, values[s:e], None if targets is None else targets[s:e],
                       digests[i]) for i, s, e in todo)
    failures = _run(explainer, call, tasks, manifest, client, retries, progress,
                    sum(e - s for _, s, e in todo))
    manifest.complete = not failures
    manifest.save()
    if failures:
        first = failures[0]
        raise RuntimeError(f"{len(failures)} chunk(s) failed, first rows {first[0]}: "
                           f"{first[1]}; the other chunks are saved in {str(folder)!r}: "
                           "rerun the same call to compute the missing ones")
    return DatasetExplanation.open(folder)


def _run(explainer, call, tasks, manifest: Manifest, client, retries, progress,
         n_rows) -> list:
    from probex.inference._runtime import progress_bar

    failures = []
    bar = progress_bar(n_rows, "explaining rows", progress)

    def on_done(task: ChunkTask, output: ChunkOutput) -> None:
        file = (None if output.payload is None
                else write_chunk(manifest.folder, task.index, output.payload))
        manifest.record(ChunkRecord(task.index, task.start, task.stop, task.data, file,
                                    output.sha256, len(output.explained), output.n_queries,
                                    round(output.seconds, 4), output.errors))
        manifest.save()
        bar.update(task.stop - task.start)
        if output.errors:
            bar.set_postfix(errors=len(manifest.errors))

    def on_fail(task: ChunkTask, err: BaseException) -> None:
        failures.append((f"{task.start}:{task.stop}", f"{type(err).__name__}: {err}"))

    try:
        if client is None:
            run_in_process(explainer, call, tasks, on_done, on_fail)
        else:
            client, opened = connect(client)
            try:
                run_on_dask(client, explainer, call, tasks, on_done, on_fail, retries=retries)
            finally:
                if opened:
                    client.close()
    finally:
        bar.close()
    return failures


def _open_manifest(folder: Path, header: dict, resume: bool, digests: dict) -> Manifest:
    old = Manifest.load(folder)
    if old is not None and resume:
        old.check_same_run(header)
        old.check_same_data(digests)
        return old
    if old is not None:  # start over: the old run's chunk files go
        for file in old.files():
            file.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    return Manifest(folder, header)


def _header(explainer, call: ChunkCall, target, selected: range, chunk_size: int,
            store: str) -> dict:
    from probex.engine.manifest import FORMAT

    configuration = describe_explainer(explainer)
    described_call = {"n_samples": call.n_samples, "target": describe_value(target),
                      "options": describe_value(call.options)}
    text = json.dumps({"configuration": configuration, "call": described_call},
                      sort_keys=True, default=str)
    return {"format": FORMAT, "method": explainer.method, "seed": explainer.seed,
            "probex_version": __version__, "n_rows": len(selected),
            "rows": [selected.start, selected.stop], "chunk_size": chunk_size,
            "store": store, "call": described_call, "configuration": configuration,
            "configuration_hash": digest(text.encode())}


def _row_values(explainer, X):
    """The rows as something sliceable (numpy array or list) and their number."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if explainer.bb is not None:
        X = _aligned_values(explainer.bb, X, "X")  # DataFrames: columns by name
    elif hasattr(X, "to_numpy"):
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            X = list(X) if X.ndim == 1 and X.dtype == object else X
            if isinstance(X, np.ndarray):
                raise ValueError(f"X must have shape (n_rows, d); got {X.shape}")
        return X, len(X)
    if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
        raise TypeError(f"X must be an array, a DataFrame or a sequence of rows, got "
                        f"{type(X).__name__}")
    return list(X), len(X)


def _selection(rows, n_total: int) -> range:
    if rows is None:
        selected = range(n_total)
    elif isinstance(rows, (slice, range)):
        if rows.step not in (None, 1):
            raise ValueError("rows must be a contiguous slice/range (step 1)")
        selected = range(n_total)[rows.start:rows.stop]
    else:
        raise TypeError(f"rows must be a slice or range of X's rows, got {type(rows).__name__}")
    if len(selected) == 0:
        raise ValueError(f"rows={rows!r} selects none of the {n_total} rows of X")
    return selected


def _width(explainer, values) -> tuple[int, tuple]:
    bb = explainer.bb
    if bb is not None and bb.n_features is not None:
        return bb.n_features, tuple(bb.feature_names)
    if isinstance(values, np.ndarray):
        d = values.shape[1]
    else:
        d = len(values[0])
    if bb is not None:
        bb.bind_features(d)
        return d, tuple(bb.feature_names)
    return d, tuple(getattr(explainer, "feature_names", None) or [f"x{j}" for j in range(d)])


def _per_row_targets(target, n_total: int):
    if isinstance(target, (list, tuple, np.ndarray, torch.Tensor)):
        values = np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target)
        if values.ndim != 1 or values.shape[0] != n_total:
            raise ValueError(f"target must be one index, 'predicted' or one index per row of "
                             f"X ({n_total}); got shape {values.shape}")
        return values
    return None


class _Captured(Exception):
    """Raised by the stand-in ``_explain_rows`` once it has seen the resolved call."""


def _resolve_call(explainer, n_samples, target, targets, options, n_features, names,
                  store) -> ChunkCall:
    """The call every chunk makes, validated and completed by the method's own
    ``explain`` (on one all-zero row, stopped before any work is done); class indices are
    checked by the method's target rule (which queries nothing for indices)."""
    target = None if targets is not None else target
    amortized = isinstance(explainer, AmortizedExplainer)
    if amortized and n_samples is not None:
        raise ValueError(f"n_samples applies to local explainers; {explainer.method} is "
                         "amortized and explains by a forward pass, without queries")
    seen = {}

    def capture(X, rows, single, n_samples, target, options):
        seen.update(n_samples=n_samples, target=target, options=dict(options))
        raise _Captured

    probe = torch.zeros(1, n_features, dtype=torch.float64)
    explainer._explain_rows = capture
    try:
        if amortized:
            explainer.explain(probe, target=target, **options)
        else:
            explainer.explain(probe, n_samples, target=target, **options)
    except _Captured:
        pass
    finally:
        del explainer._explain_rows
    if not seen:  # pragma: no cover - every explain goes through _explain_rows
        raise TypeError(f"{type(explainer).__name__}.explain does not use _explain_rows")
    given = seen["target"] if targets is None else targets[:1]
    if given is not None and not isinstance(given, str):
        explainer._targets(given, probe)
    return ChunkCall(seen["n_samples"], seen["target"], seen["options"], n_features,
                     names, store)
