"""What a model returns, checked and reduced to the output under explanation.

The output conventions of :class:`~probex.blackbox.BlackBox` (``"probabilities"``,
``"logits"`` or regression ``"values"``), the validation of every batch the model
returns (shapes, probabilities in [0, 1] summing to 1), and the targets: checking a
user's ``target`` and selecting the target column of the outputs.
"""

from __future__ import annotations

import numpy as np
import torch

from probex._checks import as_tensor, check_choice

__all__ = [
    "check_target",
    "resolve_output",
    "validate_output",
    "as_columns",
    "check_probabilities",
    "target_column",
]

_OUTPUTS = ("probabilities", "logits", "values")
_PROBABILITY_TOL = 1e-6
_ROW_SUM_TOL = 1e-3


def check_target(target):
    """A target as ``None``, ``"predicted"`` or a non-negative int; a ValueError otherwise
    (booleans, floats, negative numbers and other strings are refused)."""
    if target is None:
        return None
    if isinstance(target, str):
        if target != "predicted":
            raise ValueError(f"target must be a class/output index or 'predicted', got "
                             f"{target!r}")
        return target
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)) \
            or target < 0:
        raise ValueError(f"target must be a non-negative integer index or 'predicted', got "
                         f"{target!r}")
    return int(target)


def resolve_output(output: str | None, task: str, kind: str) -> str:
    """What the model returns: ``output`` checked against ``task``, or the default for the
    task and the model's kind (regression ``"values"``; ``"logits"`` for torch modules,
    else ``"probabilities"``)."""
    if output is None:
        output = "values" if task == "regression" else (
            "logits" if kind == "torch" else "probabilities")
    check_choice("output", output, _OUTPUTS)
    if (task == "regression") != (output == "values"):
        raise ValueError(
            f"output={output!r} does not fit task={task!r}: regression models return "
            "'values', classifiers return 'probabilities' or 'logits'"
        )
    return output


def validate_output(out, n_rows: int, task: str, output: str, device) -> torch.Tensor:
    """One batch of model outputs as a checked tensor (n_rows, k) on ``device``."""
    out = as_tensor(out, "model output", device=device)
    if out.ndim == 0 or out.ndim > 2 or out.shape[0] != n_rows:
        raise ValueError(
            f"model output has shape {tuple(out.shape)} for {n_rows} input rows; expected "
            f"({n_rows},) or ({n_rows}, n_outputs)"
        )
    if out.ndim == 1:
        if task != "regression" and output != "logits":  # P(positive class)
            check_probabilities(out[:, None], check_rows=False)
        out = as_columns(out, task, output)
    if task == "classification" and out.shape[1] < 2:
        raise ValueError(
            f"a classifier must return one column per class (at least 2); got shape "
            f"{tuple(out.shape)}"
        )
    if output == "probabilities":
        check_probabilities(out, check_rows=True)
    return out


def as_columns(out: torch.Tensor, task: str, output: str) -> torch.Tensor:
    """A single output column (n,) as (n, k): one regression output, a single log-odds
    column as logits (0, s), or the probability p of the positive class as (1 - p, p)."""
    if task == "regression":
        return out[:, None]
    if output == "logits":  # a single log-odds column
        return torch.stack([torch.zeros_like(out), out], dim=1)
    return torch.stack([1.0 - out, out], dim=1)  # probability of the positive class


def check_probabilities(probs: torch.Tensor, check_rows: bool) -> None:
    """Probabilities must lie in [0, 1] and, with ``check_rows``, sum to 1 by row."""
    low, high = float(probs.min()), float(probs.max())
    if low < -_PROBABILITY_TOL or high > 1.0 + _PROBABILITY_TOL:
        raise ValueError(
            f"model returned probabilities outside [0, 1] (min {low:.4g}, max {high:.4g}); "
            "if it returns logits or scores, pass output='logits'"
        )
    if check_rows:
        error = (probs.sum(dim=1) - 1.0).abs()
        if float(error.max()) > _ROW_SUM_TOL:
            row = int(error.argmax())
            raise ValueError(
                f"model probabilities do not sum to 1 (row {row} sums to "
                f"{float(probs[row].sum()):.6g}); pass output='logits' for unnormalised scores"
            )


def target_column(outputs: torch.Tensor, target, task: str) -> torch.Tensor:
    """The target column of outputs (n, k): ``target`` an index, (n,) indices or
    ``"predicted"`` (each row's maximum); a single regression output whatever it is."""
    n_rows, n_outputs = outputs.shape
    if task == "regression" and n_outputs == 1:
        return outputs[:, 0]
    if isinstance(target, str):  # "predicted": each row's own argmax
        return outputs.max(dim=1).values
    if isinstance(target, torch.Tensor) and target.ndim == 1:
        index = target.to(device=outputs.device, dtype=torch.long)
        if index.shape[0] != n_rows:
            raise ValueError(f"{index.shape[0]} targets for {n_rows} rows")
        _check_target_range(int(index.max()), n_outputs, task)
        return outputs.gather(1, index[:, None])[:, 0]
    target = int(target)
    _check_target_range(target, n_outputs, task)
    return outputs[:, target]


def _check_target_range(target: int, n_outputs: int, task: str) -> None:
    if target >= n_outputs:
        kind = "classes" if task == "classification" else "outputs"
        raise ValueError(f"target={target} but the model has {n_outputs} {kind}")
