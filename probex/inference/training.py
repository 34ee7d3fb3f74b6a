"""One checkpointed training loop for every amortized model (LEX, FEX, ...).

:func:`train` runs the caller's step functions over minibatches of n training rows::

    for phase in phases:                        # e.g. EVAL-X pre-training, then selection
        for epoch in range(phase.epochs):
            order = randperm(n, generator)      # generator seeded by ``seed``
            for index in minibatches of order:  # (b,) row indices, b <= batch_size
                lr = lr_0 * lr_schedule(step, total)
                stats = phase.step(step, index) # forward, backward, optimizer step(s)
                at the epoch's last step: stats |= monitor.end_of_epoch(epoch)
                history: step, epoch, phase, **stats
                checkpoint every ``checkpoint_every`` steps and after the last
            stop early once monitor.stopped

A step function does its own forward, backward and optimizer step (or several: PPO's
updates of one rollout are one step), draws its randomness from torch's global RNG (which
the caller seeds, e.g. with :func:`probex.inference._runtime.seeded`) and returns floats.

A checkpoint (written atomically by :class:`probex.checkpoint.Checkpointer`) holds the
step, the state dicts of ``modules`` and ``optimizer``, torch's global RNG states, the
data-order generator's state and the current epoch's order, the history so far, the
black-box rows spent so far and the fit's fingerprint. Resuming restores all of it, so a
resumed fit ends bit-identical to an uninterrupted one (same device, same torch).

The fingerprint names everything a fit depends on: ``seed``, ``n_rows``, ``batch_size``,
``epochs`` (per phase), a SHA-256 of the training tensors (``training data``: their
dtypes, shapes and bytes, so shuffled rows or other data of the same shape differ) and
the caller's configuration values. A checkpoint of another fit is refused with a
``ValueError`` naming each difference. The learning-rate schedule is a function of the
step, so resuming needs no scheduler state.

A ``monitor`` (e.g. :class:`probex.inference.early_stopping.EarlyStopping`) scores the
networks after every epoch, adds its stats to that epoch's last history row and may stop
the loop early; its state is checkpointed too, so a resumed fit stops where an
uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from probex.checkpoint import Checkpointer
from probex.inference._runtime import progress_bar

__all__ = ["Phase", "TrainingResult", "train", "open_checkpoint", "geometric_decay",
           "data_digest", "describe"]

StepFn = Callable[[int, torch.Tensor], Mapping[str, float]]


@dataclass(frozen=True)
class Phase:
    """A stretch of training with its own step function.

    Attributes:
        epochs: passes over the n rows (0 skips the phase).
        step: ``step(step, index) -> stats``: ``step`` the global step 0..total-1,
            ``index`` a (b,) long tensor of row indices (on ``device``), b <= batch_size;
            it trains on those rows and returns a mapping of floats to record.
        name: the ``phase`` column of the history (no such column when every phase is
            unnamed).
    """

    epochs: int
    step: StepFn
    name: str | None = None


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` returns.

    Attributes:
        history: one row per step: ``step``, ``epoch``, ``phase`` (named phases only) and
            the step functions' stats.
        n_queries: black-box rows the fit spent, as an uninterrupted fit spends them: the
            caller's ``setup_queries`` plus the rows counted during every step (a resume
            adds to the checkpoint's count; rows re-spent on set-up are not counted twice).
        resumed_at: the step the fit resumed from (0 for a fresh fit).
        seconds: wall-clock time of this call's loop.
    """

    history: pd.DataFrame
    n_queries: int
    resumed_at: int
    seconds: float


def geometric_decay(final_fraction: float) -> Callable[[int, int], float]:
    """Learning-rate factor ``final_fraction ** (step / total)``: 1 at the start, decaying
    geometrically towards ``final_fraction`` (in (0, 1]; 1 keeps the rate constant)."""
    if not 0 < final_fraction <= 1:
        raise ValueError(f"final_lr_fraction must be in (0, 1], got {final_fraction}")
    return lambda step, total: final_fraction ** (step / total)


def data_digest(*arrays) -> str:
    """``"sha256:<hex>"`` of the dtypes, shapes and bytes of tensors or arrays."""
    digest = hashlib.sha256()
    for array in arrays:
        t = torch.as_tensor(array).detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


def describe(value) -> str:
    """A configuration value as fingerprint text: numbers exactly (``repr`` of floats),
    tensors and arrays by :func:`data_digest`, anything else by ``repr``."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return data_digest(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))
    return repr(value)


def open_checkpoint(path, every: int = 100, resume: bool = False) -> Checkpointer:
    """Validate checkpoint arguments before any work: ``resume`` needs a path, the path's
    folder must exist and be writable (``ValueError`` naming it), a resumed file must
    exist (``FileNotFoundError``)."""
    if resume and path is None:
        raise ValueError("resume=True needs checkpoint=<path>")
    checkpointer = path if isinstance(path, Checkpointer) else Checkpointer(path, every)
    checkpointer.check_writable()
    if resume and not checkpointer.path.is_file():
        raise FileNotFoundError(f"resume=True but there is no checkpoint at "
                                f"{str(checkpointer.path)!r}")
    return checkpointer


def _differences(saved: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """One clause per fingerprint entry that differs."""
    parts = []
    for key in [*current, *(k for k in saved if k not in current)]:
        old, new = saved.get(key), current.get(key)
        if old == new:
            continue
        if any(str(v).startswith("sha256:") for v in (old, new)):
            parts.append(f"it was written with other {key}")
        elif key == "n_rows":
            parts.append(f"it was written by a fit on {old} rows; this fit has {new}")
        elif old is None or new is None:
            parts.append(f"it was written with {key}={old or '(unset)'}; this fit has "
                         f"{key}={new or '(unset)'}")
        else:
            parts.append(f"it was written with {key}={old}; this fit has {key}={new}")
    return parts


def _history_columns(rows: list[dict]) -> dict[str, torch.Tensor]:
    """Stats rows as float64 columns (NaN where a step did not report a stat)."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return {k: torch.tensor([row.get(k, math.nan) for row in rows], dtype=torch.float64)
            for k in keys}


def _history_rows(columns: Mapping[str, torch.Tensor]) -> list[dict]:
    values = {k: v.tolist() for k, v in columns.items()}
    n = len(next(iter(values.values()), []))
    return [{k: v[i] for k, v in values.items() if not math.isnan(v[i])} for i in range(n)]


def train(phases: Sequence[Phase], *, data: Sequence, batch_size: int, seed: int,
          modules: Mapping[str, torch.nn.Module], optimizer: torch.optim.Optimizer,
          config: Mapping[str, object] | None = None,
          lr_schedule: Callable[[int, int], float] | None = None,
          checkpoint=None, checkpoint_every: int = 100, resume: bool = False,
          count_queries: Callable[[], int] | None = None, setup_queries: int = 0,
          name: str = "training", progress: bool | None = None, postfix: Sequence[str] = (),
          callback: Callable[[int, Mapping[str, float]], None] | None = None,
          device=None, monitor=None) -> TrainingResult:
    """Run ``phases`` over minibatches of the training rows; see the module docstring.

    Args:
        phases: the :class:`Phase` s, in order.
        data: the training tensors, each with the n rows first (e.g. X (n, d) and targets
            (n,) or (n, C)); only hashed into the fingerprint (the step functions hold
            them).
        batch_size: rows per step (the last step of an epoch takes the rest).
        seed: of the data-order generator (and recorded in the fingerprint).
        modules, optimizer: the state saved and restored (networks, buffers, moments).
        config: configuration values for the fingerprint, by name (see :func:`describe`).
        lr_schedule: ``factor(step, total)`` multiplying each parameter group's initial
            learning rate before every step (e.g. :func:`geometric_decay`).
        checkpoint: file (or :class:`~probex.checkpoint.Checkpointer`) saved every
            ``checkpoint_every`` steps and after the last; ``resume=True`` continues from
            it. Its folder is checked before the first step.
        count_queries: returns the black box's running row count (e.g.
            ``lambda: bb.n_queries``); ``setup_queries``: rows spent before the loop.
        name: label of the progress bar and error messages; ``postfix``: stats shown on
            the bar.
        callback: ``callback(steps_done, stats)`` after every step (and its checkpoint).
        device: where the minibatch indices go.
        monitor: an object with ``end_of_epoch(epoch) -> stats``, ``stopped``,
            ``state_dict()`` and ``load_state_dict(state)`` (module docstring); its queries
            count as the fit's.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    batch_size = int(batch_size)
    checkpointer = (open_checkpoint(checkpoint, checkpoint_every, resume)
                    if checkpoint is not None or resume else None)
    if checkpointer is not None and checkpointer.path is None:
        checkpointer = None
    phases = list(phases)
    for phase in phases:
        if isinstance(phase.epochs, bool) or not isinstance(phase.epochs, numbers.Integral) \
                or phase.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {phase.epochs!r}")
    n_rows = len(data[0]) if len(data) else 0
    if n_rows < 1 or any(len(t) != n_rows for t in data):
        raise ValueError("data must be one or more tensors with the same number (>= 1) of "
                         f"rows; got {[len(t) for t in data]}")
    epoch_phase = [phase for phase in phases for _ in range(phase.epochs)]
    if not epoch_phase:
        raise ValueError("training needs at least one epoch")
    steps_per_epoch = math.ceil(n_rows / batch_size)
    total = len(epoch_phase) * steps_per_epoch
    named = any(phase.name is not None for phase in phases)
    epochs = (str(phases[0].epochs) if len(phases) == 1 else
              "(" + ", ".join(f"{p.name}: {p.epochs}" for p in phases) + ")")
    fingerprint = {"seed": describe(seed), "n_rows": str(n_rows),
                   "batch_size": str(batch_size), "epochs": epochs,
                   "training data": data_digest(*data),
                   **{key: describe(value) for key, value in (config or {}).items()}}
    generator = torch.Generator().manual_seed(int(seed))
    initial_lr = [group["lr"] for group in optimizer.param_groups]
    step, order, rows, spent = 0, None, [], int(setup_queries)
    if resume:
        payload = checkpointer.load()
        saved = payload.get("extra", {}).get("fingerprint")
        where = f"the checkpoint {str(checkpointer.path)!r}"
        if not isinstance(saved, dict):
            raise ValueError(f"{where} holds no fingerprint (written by an older probex?); "
                             "fit without resume")
        differences = _differences(saved, fingerprint)
        if differences:
            raise ValueError(f"{where} is of a different {name} fit: "
                             + "; and ".join(differences))
        try:
            step, extra = checkpointer.restore(dict(modules), optimizer, generator, payload)
        except (RuntimeError, KeyError) as err:  # state dicts of other shapes or names
            raise ValueError(f"{where} does not match this fit's networks or optimizer: "
                             f"{err}") from err
        order, rows = extra["order"], _history_rows(extra["history"])
        spent = int(extra["n_queries"])
        if monitor is not None:
            if "monitor" not in extra:
                raise ValueError(f"{where} holds no early-stopping state; fit without resume")
            monitor.load_state_dict(extra["monitor"])
    resumed_at = step
    counted_from = count_queries() if count_queries is not None else 0

    def queries() -> int:
        return spent + (count_queries() - counted_from if count_queries is not None else 0)

    start = time.perf_counter()
    with progress_bar(total, name, progress) as bar:
        bar.update(step)
        while step < total and not (monitor is not None and monitor.stopped):
            epoch, position = divmod(step, steps_per_epoch)
            if position == 0 or order is None:
                order = torch.randperm(n_rows, generator=generator)
            index = order[position * batch_size:(position + 1) * batch_size].to(device)
            if lr_schedule is not None:
                factor = lr_schedule(step, total)
                for group, lr in zip(optimizer.param_groups, initial_lr, strict=True):
                    group["lr"] = lr * factor
            try:
                stats = {key: float(value)
                         for key, value in epoch_phase[epoch].step(step, index).items()}
            except FloatingPointError as err:
                raise FloatingPointError(f"{err} (at step {step})") from err
            if monitor is not None and position == steps_per_epoch - 1:
                stats.update({key: float(value)
                              for key, value in monitor.end_of_epoch(epoch).items()})
            rows.append(stats)
            step += 1
            stopped = monitor is not None and monitor.stopped
            if checkpointer is not None and (checkpointer.due(step) or step == total
                                             or stopped):
                extra = {"fingerprint": fingerprint, "order": order, "n_queries": queries(),
                         "history": _history_columns(rows)}
                if monitor is not None:
                    extra["monitor"] = monitor.state_dict()
                checkpointer.save(step, dict(modules), optimizer, generator, extra=extra)
            bar.update()
            if postfix and (step % max(1, total // 100) == 0 or step == total):
                bar.set_postfix({key: f"{stats[key]:.4g}" for key in postfix if key in stats})
            if callback is not None:
                callback(step, stats)
    steps = np.arange(len(rows))
    frame = {"step": steps, "epoch": steps // steps_per_epoch}
    if named:
        frame["phase"] = [epoch_phase[e].name for e in frame["epoch"]]
    history = pd.concat([pd.DataFrame(frame), pd.DataFrame.from_records(rows)], axis=1)
    return TrainingResult(history, queries(), resumed_at, time.perf_counter() - start)
