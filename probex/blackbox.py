"""The black box under explanation: one interface for scikit-learn, torch and callables.

Every explainer talks to the model through :class:`BlackBox`, which batches queries,
moves them to a device, counts the rows sent, selects the target output and validates
both what goes in and what comes out.
"""

from __future__ import annotations

import numpy as np
import torch

from probex._checks import (
    as_matrix,
    check_choice,
    check_finite,
    feature_names_or_default,
    resolve_device,
)
from probex._threads import caller_intra_op_threads
from probex.blackbox_counting import QueryCounter, QueryCounting
from probex.blackbox_models import (
    check_module_device,
    check_regression_estimator,
    default_batch_size,
    default_task,
    model_kind,
    model_outputs,
    module_dtype,
)
from probex.blackbox_outputs import (
    as_columns,
    check_target,
    resolve_output,
    target_column,
    validate_output,
)

__all__ = ["BlackBox", "QueryCounter", "as_blackbox", "check_target"]

_TASKS = ("classification", "regression")
_INPUT_TYPES = ("numpy", "torch")


class BlackBox(QueryCounting):
    """A model seen only through its outputs.

    Args:
        model: a fitted scikit-learn estimator (``predict_proba`` for classification,
            ``predict`` for regression), a ``torch.nn.Module`` or any callable mapping an
            (n, d) array to outputs of shape (n,) or (n, k).
        task: ``"classification"`` or ``"regression"``; by default regression for a
            scikit-learn regressor (pipelines included), classification otherwise.
        target: the output explained by default: a class index for classification, an
            output index for multi-output regression (ignored when the regression model has
            a single output), or ``"predicted"`` (each instance's predicted class). ``None``
            (default): the explainer's convention, class 1 for binary-style methods (as
            lime) and the predicted class for RISE, FEX and LEX. Every ``explain`` also
            takes ``target=`` for one call.
        batch_size: rows per model call; larger queries are split. ``None`` (default):
            4096 for torch modules and torch callables (bounded device memory) and
            100,000 for scikit-learn estimators and numpy callables, whose per-call
            overhead (a random forest: ~5 ms) would otherwise dominate.
        device: where torch inputs are placed; a torch module must already live there.
        feature_names: names of the d input features; taken from the estimator's
            ``feature_names_in_`` when omitted, else ``x0 .. x{d-1}``.
        n_features: number of input features, when it cannot be read from the model.
        output: what the model returns for classification: ``"probabilities"`` (default
            for scikit-learn and callables) or ``"logits"`` (default for torch modules).
        input_type: for plain callables, whether they take ``"numpy"`` arrays or
            ``"torch"`` tensors.
        class_names: optional names of the classes, for display.

    Attributes:
        n_queries: total number of rows sent to the model so far (all threads).

    Thread safety: one BlackBox may be shared by explainers running in several threads
    (if the model itself may be called from several threads): the total ``n_queries`` is
    updated under a lock, and each explanation counts only the rows its own thread sent
    (:meth:`counting`).
    """

    def __init__(
        self,
        model,
        task: str | None = None,
        target: int | str | None = None,
        batch_size: int | None = None,
        device: str | torch.device = "cpu",
        feature_names=None,
        n_features: int | None = None,
        output: str | None = None,
        input_type: str = "numpy",
        class_names=None,
    ):
        if task is None:
            task = default_task(model)
        check_choice("task", task, _TASKS)
        check_choice("input_type", input_type, _INPUT_TYPES)
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.model = model
        self.task = task
        self.device = resolve_device(device)
        self.input_type = input_type
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self._start_counting()
        self.kind = model_kind(model, task)
        if batch_size is None:
            batch_size = default_batch_size(self.kind, input_type)
        self.batch_size = int(batch_size)
        self.output = resolve_output(output, task, self.kind)
        self.target = check_target(target)
        check_regression_estimator(model, self.kind, task)
        self._sklearn_columns = getattr(model, "feature_names_in_", None)
        if n_features is None:
            n_features = getattr(model, "n_features_in_", None)
        if feature_names is None and self._sklearn_columns is not None:
            feature_names = list(self._sklearn_columns)
        if n_features is None and feature_names is not None:
            n_features = len(feature_names)
        self.n_features = None if n_features is None else int(n_features)
        self._feature_names = (
            None if self.n_features is None
            else feature_names_or_default(feature_names, self.n_features)
        )
        self.has_feature_names = feature_names is not None  # given, not x0 .. x{d-1}
        self.n_outputs: int | None = None
        if self.kind == "torch":
            check_module_device(self.model, self.device)

    # ------------------------------------------------------------------ properties
    @property
    def feature_names(self) -> list[str]:
        """Names of the input features (known once ``n_features`` is)."""
        if self._feature_names is None:
            raise ValueError(
                "the number of features is not known yet: pass n_features= or "
                "feature_names= to BlackBox, or query the model once"
            )
        return list(self._feature_names)

    def bind_features(self, n_features: int) -> None:
        """Fix the number of input features (from background data) if not yet known, or
        check that it matches."""
        if self.n_features is None:
            self.n_features = int(n_features)
            self._feature_names = feature_names_or_default(None, self.n_features)
        elif self.n_features != n_features:
            raise ValueError(
                f"the data has {n_features} features but the model expects {self.n_features}"
            )

    def adopt_feature_names(self, names) -> None:
        """Take feature names from the user's data (a DataFrame's columns) when the black
        box has none of its own; with names of its own, they must be the same set."""
        names = [str(n) for n in names]
        self.bind_features(len(names))
        if not self.has_feature_names:
            self._feature_names = feature_names_or_default(names, self.n_features)
            self.has_feature_names = True

    @property
    def differentiable(self) -> bool:
        """Whether gradients of the outputs with respect to the inputs are available."""
        return self.kind == "torch" or (self.kind == "callable" and self.input_type == "torch")

    def __repr__(self) -> str:
        return (
            f"BlackBox({self.kind}, task={self.task!r}, target={self.target}, "
            f"n_features={self.n_features}, n_queries={self.n_queries})"
        )

    # ------------------------------------------------------------------ queries
    def __call__(self, X, level=None, target=None) -> torch.Tensor:
        """Target output for each row: shape (n,), float64, on ``device``.

        For classification this is the probability of the target class; for regression
        the (target) output. ``target`` overrides the black box's own for this call: an
        index, or one index per row ((n,) integers). ``level`` is the perturbation level
        of each row in [0, 1] (fraction of features replaced); plain black boxes ignore it,
        calibrated ones (ReCalX) use it.
        """
        outputs = self.predict(X, level=level)
        return self.select_target(outputs, target)

    def select_target(self, outputs: torch.Tensor, target=None) -> torch.Tensor:
        """The target column of outputs (n, k): ``target`` an index, (n,) indices, or
        ``None`` for the black box's own (which must then be an index)."""
        return target_column(outputs, self.default_target if target is None else target,
                             self.task)

    @property
    def default_target(self) -> int | str:
        """The target used when none is given: ``target`` if set, else class 1 for
        classifiers (lime's convention) and output 0 for regression."""
        if self.target is not None:
            return self.target
        return 1 if self.task == "classification" else 0

    def predict(self, X, level=None) -> torch.Tensor:
        """All outputs: probabilities (n, n_classes) or regression values (n, n_outputs)."""
        raw = self._query(X)
        if self.output == "logits":
            return torch.softmax(raw, dim=-1)
        return raw

    def log_probabilities(self, X, level=None) -> torch.Tensor:
        """Log class probabilities (n, n_classes), from logits where the model gives them.

        These are the scores ReCalX rescales by a temperature: dividing them by T > 0
        and renormalising keeps every row's argmax.
        """
        if self.task != "classification":
            raise ValueError("log_probabilities is only defined for classification models")
        raw = self._query(X)
        if self.output == "logits":
            return torch.log_softmax(raw, dim=-1)
        return torch.log(raw.clamp_min(torch.finfo(raw.dtype).tiny))

    def gradient(self, X, target=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The target output and its gradient with respect to the inputs, row by row.

        Differentiates exactly what :meth:`__call__` returns (the probability of class
        ``target`` for classifiers, softmax-ed from logits where the model gives logits;
        the target output for regression), by autograd in batches of ``batch_size``
        rows; every row counts as one query. The model must treat rows independently
        (e.g. a torch module in eval mode). To explain a logit instead of a probability,
        wrap the module with ``task="regression"`` and ``target=<logit column>``.
        ``target`` as in :meth:`__call__` (an index or one per row).

        Returns:
            (values (n,), gradients (n, d)), float64, on ``device``.

        Raises:
            ValueError: if the model is not differentiable (scikit-learn estimators,
                numpy callables) or returns non-finite values or gradients.
        """
        if not self.differentiable:
            raise ValueError(
                f"gradients need a differentiable model (a torch nn.Module or a callable with "
                f"input_type='torch'), not a {self.kind} model; use a perturbation method "
                "such as px.CLIME or px.BayesLIME instead"
            )
        X = as_matrix(X, "model input", n_features=self.n_features, dtype=torch.float64)
        dtype = module_dtype(self.model) if self.kind == "torch" else torch.float64
        per_row = isinstance(target, torch.Tensor) and target.ndim == 1
        values, gradients = [], []
        for start in range(0, X.shape[0], self.batch_size):
            batch = X[start : start + self.batch_size]
            batch_target = target[start : start + self.batch_size] if per_row else target
            with torch.enable_grad(), caller_intra_op_threads():
                inputs = batch.to(device=self.device, dtype=dtype).requires_grad_(True)
                out = self.model(inputs)
                if not isinstance(out, torch.Tensor) or not out.requires_grad:
                    raise ValueError("the model's output does not depend differentiably on "
                                     "its input tensor (no autograd graph)")
                checked = self._validate_output(out.detach(), batch.shape[0])
                self.bind_features(X.shape[1])
                self._count(batch.shape[0])
                self.n_outputs = checked.shape[1]
                if out.ndim == 1:  # the same single-column conventions as _validate_output
                    out = as_columns(out, self.task, self.output)
                if self.output == "logits":
                    out = torch.softmax(out, dim=-1)
                selected = self.select_target(out, batch_target)
                (grad,) = torch.autograd.grad(selected.sum(), inputs)
            grad = grad.detach().to(torch.float64)
            check_finite(grad, "model gradient")
            values.append(selected.detach().to(torch.float64))
            gradients.append(grad)
        return torch.cat(values), torch.cat(gradients)

    def _query(self, X) -> torch.Tensor:
        """Send rows to the model in batches; validated float64 outputs of shape (n, k)."""
        X = as_matrix(X, "model input", n_features=self.n_features, dtype=torch.float64)
        chunks = []
        for start in range(0, X.shape[0], self.batch_size):
            batch = X[start : start + self.batch_size]
            if self.n_features is None:  # learn the width only from a call that works
                try:
                    out = self._call_model(batch)
                except Exception as err:
                    raise ValueError(f"the model failed on input with {X.shape[1]} features "
                                     f"({type(err).__name__}: {err}); pass n_features= or "
                                     "feature_names= to BlackBox") from err
                self.bind_features(X.shape[1])
            else:
                out = self._call_model(batch)
            self._count(batch.shape[0])
            chunks.append(self._validate_output(out, batch.shape[0]))
        outputs = torch.cat(chunks, dim=0)
        self.n_outputs = outputs.shape[1]
        return outputs

    def _call_model(self, batch: torch.Tensor):
        with caller_intra_op_threads():  # the model gets the caller's threads
            return model_outputs(self.model, self.kind, batch, task=self.task,
                                 device=self.device, input_type=self.input_type,
                                 columns=self._sklearn_columns)

    def _validate_output(self, out, n_rows: int) -> torch.Tensor:
        return validate_output(out, n_rows, self.task, self.output, self.device)


def as_blackbox(model, **kwargs) -> BlackBox:
    """Return ``model`` if it already is a :class:`BlackBox`, else wrap it."""
    if isinstance(model, BlackBox):
        if kwargs:
            raise ValueError(
                f"options {sorted(kwargs)} apply when wrapping a model, not to an existing BlackBox"
            )
        return model
    return BlackBox(model, **kwargs)
