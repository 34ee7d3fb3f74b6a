"""Where the chunks of a data set run: in this process, or as tasks on a Dask cluster.

Both engines take the same chunk tasks and hand every finished chunk to ``on_done`` in
the calling process (which writes its file and the manifest), and every chunk that failed
as a whole to ``on_fail``; neither raises for one chunk's failure.

On Dask (:func:`run_on_dask`) the explainer (black box, background, fitted networks) is
scattered to every worker once (``broadcast=True``); each task carries only its rows.
At most ``in_flight`` tasks are submitted at a time, so neither the scheduler nor the
workers hold more than a few chunks' rows and results. A task whose worker dies is
rescheduled by the scheduler; a task that raises is retried ``retries`` times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice

import numpy as np

from probex._checks import check_count
from probex.engine.chunk import ChunkCall, ChunkOutput, explain_chunk

__all__ = ["ChunkTask", "run_in_process", "run_on_dask", "connect", "local_client"]


@dataclass
class ChunkTask:
    """Chunk ``index``: the data set's rows ``start:stop`` (``rows``), their values, their
    per-row targets (or None) and the digest of their values."""

    index: int
    start: int
    stop: int
    values: object
    targets: np.ndarray | None
    data: str

    @property
    def rows(self) -> np.ndarray:
        return np.arange(self.start, self.stop, dtype=np.int64)


Done = Callable[[ChunkTask, ChunkOutput], None]
Failed = Callable[[ChunkTask, BaseException], None]


def run_in_process(explainer, call: ChunkCall, tasks: Iterable[ChunkTask], on_done: Done,
                   on_fail: Failed) -> None:
    """Explain the chunks one after another in this process."""
    for task in tasks:
        try:
            output = explain_chunk(explainer, call, task.rows, task.values, task.targets)
        except Exception as err:  # noqa: BLE001 - reported by on_fail, the run goes on
            on_fail(task, err)
            continue
        on_done(task, output)


def local_client(n_workers: int, **options):
    """A ``dask.distributed.Client`` on a new LocalCluster of ``n_workers`` processes with
    one thread each (closing the client closes the cluster).

    The workers start without Dask's default ``MALLOC_TRIM_THRESHOLD_``: setting it turns
    off glibc's adaptive mmap threshold, so every large temporary (a chunk's
    perturbations, the model's inputs) is mapped and zero-filled afresh, which made a chunk
    ~1.5x slower on a worker than in-process. Memory then stays at a worker's peak
    (bounded by the chunk size) instead of being returned between chunks.
    """
    import dask
    from distributed import Client

    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ",
                                                  {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    environ.update({"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1})
    options = {"threads_per_worker": 1, "processes": True, "dashboard_address": None,
               **options}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        return Client(n_workers=check_count("n_workers", n_workers), **options)


def connect(client):
    """A ``dask.distributed.Client`` for ``client`` (a Client, or a scheduler address
    such as ``"tcp://10.0.0.5:8786"``) and whether this call opened it (and must close
    it)."""
    from distributed import Client

    if isinstance(client, Client):
        return client, False
    if isinstance(client, str):
        return Client(client), True
    raise TypeError(f"client must be a dask.distributed.Client or a scheduler address, got "
                    f"{type(client).__name__}")


def run_on_dask(client, explainer, call: ChunkCall, tasks: Iterable[ChunkTask],
                on_done: Done, on_fail: Failed, *, retries: int = 2,
                in_flight: int | None = None) -> None:
    """Explain the chunks as tasks on a Dask cluster (see the module docstring).

    Args:
        client: a ``dask.distributed.Client``.
        retries: extra attempts of a task that raised (worker deaths are retried by the
            scheduler, up to its ``allowed-failures``).
        in_flight: most tasks submitted at once (default: twice the workers' threads).
    """
    from distributed import as_completed

    workers = client.scheduler_info().get("workers", {})
    threads = sum(int(w.get("nthreads", 1)) for w in workers.values()) or 1
    limit = in_flight or 2 * threads
    remote = client.scatter(explainer, broadcast=True, hash=False)
    run = uuid.uuid4().hex[:8]
    tasks = iter(tasks)
    submitted: dict[str, ChunkTask] = {}

    def submit(task: ChunkTask):
        future = client.submit(explain_chunk, remote, call, task.rows, task.values,
                               task.targets, key=f"probex-chunk-{task.index}-{run}",
                               retries=retries, pure=False)
        submitted[future.key] = task
        return future

    try:
        futures = as_completed([submit(task) for task in islice(tasks, limit)])
        for future in futures:
            task = submitted.pop(future.key)
            try:
                output = future.result()
            except Exception as err:  # noqa: BLE001 - reported by on_fail, the run goes on
                on_fail(task, err)
            else:
                on_done(task, output)
            future.release()
            following = next(tasks, None)
            if following is not None:
                futures.add(submit(following))
    finally:
        remote.release()
