"""The kinds of model a black box wraps, and how one batch reaches each.

A model is a scikit-learn estimator (``"sklearn"``), a ``torch.nn.Module``
(``"torch"``) or a plain ``"callable"``. The kind decides the default batch size, the
checks made when wrapping (a torch module's device, an estimator's task) and how a batch
of float64 rows is converted and sent (:func:`model_outputs`).
"""

from __future__ import annotations

import warnings

import torch

__all__ = [
    "default_task",
    "model_kind",
    "default_batch_size",
    "check_regression_estimator",
    "check_module_device",
    "module_dtype",
    "model_outputs",
]

_DEVICE_BATCH = 4096
_HOST_BATCH = 100_000


def default_task(model) -> str:
    """The task when none is given: ``"regression"`` for a scikit-learn regressor (an
    estimator with ``predict``, no ``predict_proba``, that scikit-learn's ``is_regressor``
    recognises, pipelines included), ``"classification"`` for everything else."""
    if (isinstance(model, torch.nn.Module) or not hasattr(model, "predict")
            or hasattr(model, "predict_proba")):
        return "classification"
    try:
        from sklearn.base import is_regressor

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            regressor = bool(is_regressor(model))
    except Exception:  # noqa: BLE001 - not a scikit-learn object: use its declared type
        regressor = getattr(model, "_estimator_type", None) == "regressor"
    return "regression" if regressor else "classification"


def model_kind(model, task: str) -> str:
    """``"torch"``, ``"sklearn"`` or ``"callable"``; a TypeError for anything else."""
    if isinstance(model, torch.nn.Module):
        return "torch"
    if hasattr(model, "predict_proba") or hasattr(model, "predict"):
        if task == "classification" and not hasattr(model, "predict_proba"):
            raise ValueError(
                "task='classification' needs a model with predict_proba; for a regressor pass "
                "task='regression'"
            )
        return "sklearn"
    if callable(model):
        return "callable"
    raise TypeError(
        f"cannot explain a {type(model).__name__}: pass a scikit-learn estimator, a torch "
        "nn.Module or a callable"
    )


def default_batch_size(kind: str, input_type: str) -> int:
    """Rows per model call when none is given: bounded device memory for torch models,
    large batches for estimators and numpy callables (their per-call overhead)."""
    on_device = kind == "torch" or (kind == "callable" and input_type == "torch")
    return _DEVICE_BATCH if on_device else _HOST_BATCH


def check_regression_estimator(model, kind: str, task: str) -> None:
    """Refuse ``task='regression'`` on an estimator with ``predict_proba`` (a classifier's
    hard labels would be explained)."""
    if kind == "sklearn" and task == "regression" and hasattr(model, "predict_proba"):
        raise ValueError(
            f"task='regression' on a {type(model).__name__}, which has predict_proba: "
            "probex would explain its hard class labels. Use task='classification' to "
            "explain class probabilities, or wrap model.predict as a callable "
            "(BlackBox(model.predict, task='regression')) to explain the labels on purpose"
        )


def check_module_device(model: torch.nn.Module, device: torch.device) -> None:
    """A torch module must already live on the device its inputs are sent to."""
    param = next(iter(model.parameters()), None)
    if param is not None and param.device.type != device.type:
        raise ValueError(
            f"the torch module lives on {param.device} but device={str(device)!r}; "
            f"move it with model.to({str(device)!r}) or pass device={str(param.device)!r}"
        )


def module_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype of a torch module's parameters (float32 when it has none)."""
    param = next(iter(model.parameters()), None)
    return param.dtype if param is not None else torch.float32


def model_outputs(model, kind: str, batch: torch.Tensor, *, task: str, device,
                  input_type: str, columns=None):
    """The model's raw outputs for a batch of float64 rows: a torch module gets its own
    dtype on ``device`` (no gradients), a torch callable the rows on ``device``, an
    estimator a numpy array (a DataFrame with the ``columns`` it was fitted on) through
    ``predict_proba`` or ``predict``, a numpy callable a numpy array."""
    if kind == "torch":
        dtype = module_dtype(model)
        with torch.no_grad():
            return model(batch.to(device=device, dtype=dtype))
    if kind == "callable" and input_type == "torch":
        return model(batch.to(device))
    array = batch.cpu().numpy()
    if kind == "sklearn":
        if columns is not None:
            import pandas as pd

            array = pd.DataFrame(array, columns=columns)
        if task == "classification":
            return model.predict_proba(array)
        return model.predict(array)
    return model(array)
