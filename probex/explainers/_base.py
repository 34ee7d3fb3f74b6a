"""The explainer contract: one base class for every method.

:class:`Explainer` owns what every method shares: the black box (wrapped and bound to the
data's features), ``seed``, ``device`` and ``progress``; turning one row (d,) or a batch
(B, d) of numpy, torch or pandas data into a (B, d) tensor (DataFrames aligned to the
model's feature names by column name); resolving which output each instance explains
(:func:`resolve_targets`, the one implementation); and stamping every
:class:`~probex.Explanation` with the same metadata (method, inference, what the
uncertainty is, seed, target, queries spent, probex version).

Two families build on it, in the spirit of captum's ``Attribution`` (one verb) and
NumPyro's ``MCMC`` (explicit state):

- :class:`LocalExplainer` queries the black box for every instance:
  ``explain(x, n_samples=None, *, target=None, ...)``. A subclass writes one method,
  ``_explain(X, targets, n_samples, streams, **options)``, for a batch of instances.
- :class:`AmortizedExplainer` is fitted once (``fit(X, ...)``, training queries in
  ``n_queries_fit_``, history in ``history_``) and then explains by a forward pass.

Random streams: instance i of a call draws from its own generator seeded by
``(seed, row i)`` (:class:`~probex.explainers._instances.RowStreams`), so its explanation
does not depend on which other rows share the batch, on chunking or on scheduling. The
input handling itself lives in :mod:`probex.explainers._instances`.
"""

from __future__ import annotations

import numpy as np
import torch

from probex._checks import check_count, check_memory, check_seed, resolve_device
from probex._threads import single_intra_op_thread
from probex._version import __version__
from probex.blackbox import BlackBox, as_blackbox
from probex.explainers._instances import (
    KEEP_PERTURBATIONS_MAX,
    RowStreams,
    as_background,
    as_instances,
    keep_perturbations,
    release_freed_memory,
    resolve_targets,
    warn_unmaskable,
)
from probex.explanation import Explanation

__all__ = ["Explainer", "LocalExplainer", "AmortizedExplainer", "BYTES_PER_CHUNK",
           # re-exported from probex.explainers._instances
           "RowStreams", "as_instances", "as_background", "resolve_targets",
           "warn_unmaskable", "keep_perturbations", "KEEP_PERTURBATIONS_MAX"]

#: working memory of one chunk of a batched explanation; larger batches are explained in
#: chunks of instances, so peak memory is bounded by a chunk, not by the batch.
BYTES_PER_CHUNK = 2**28


class Explainer:
    """Base of every explanation method.

    Args:
        model: a :class:`~probex.BlackBox`, or a model wrapped with ``blackbox_options``
            (``None`` only for amortized methods that learn from labels alone).
        seed: seeds every random choice; the same seed gives the same numbers on CPU.
        device: where computations run; ``None``: the black box's device. Local methods
            compute in the black box and must share its device.
        progress: progress bars (``None``: only on a terminal).
        blackbox_options: options for wrapping a model that is not a BlackBox yet
            (``task=``, ``target=``, ``feature_names=``, ...).

    Class attributes a method sets: ``method`` (its label), ``uncertainty`` (what its
    sd describes: ``"posterior"``, ``"monte_carlo_error"`` or ``"selection_spread"``)
    and ``default_target`` (``"class 1"`` or ``"predicted"``; see
    :func:`resolve_targets`).
    """

    method = "Explainer"
    uncertainty = "posterior"
    default_target = "class 1"

    def __init__(self, model, *, seed: int = 0, device=None, progress: bool | None = None,
                 blackbox_options: dict | None = None):
        options = dict(blackbox_options or {})
        if device is not None and not isinstance(model, BlackBox) and model is not None:
            options.setdefault("device", device)
        self.bb = None if model is None else as_blackbox(model, **options)
        self.device = (resolve_device(device) if device is not None
                       else self.bb.device if self.bb is not None else torch.device("cpu"))
        self.seed = check_seed(seed)
        self.progress = progress

    @property
    def feature_names(self) -> list[str]:
        return self.bb.feature_names

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bb!r}, seed={self.seed})"

    def _targets(self, target, X: torch.Tensor) -> torch.Tensor:
        return resolve_targets(self.bb, target, X, self.default_target,
                               self._predicted_classes)

    def _predicted_classes(self, X: torch.Tensor) -> torch.Tensor:
        """Each instance's predicted class (queries the black box; amortized methods
        answer from their own networks)."""
        return self.bb.predict(X).argmax(-1)

    def _package(self, explanation: Explanation, *, n_queries: int, targets: torch.Tensor,
                 single: bool) -> Explanation:
        """Stamp the shared metadata, and drop the instance axis for a single row."""
        values = targets.cpu().numpy()
        target = int(values[0]) if len(values) and (values == values[0]).all() else values
        uncertainty = explanation.attrs.get("uncertainty", self.uncertainty)  # per call
        explanation.with_attrs(method=self.method, uncertainty=uncertainty,
                               seed=self.seed, n_queries=int(n_queries), target=target,
                               probex_version=__version__)
        return explanation[0] if single else explanation


class LocalExplainer(Explainer):
    """A method that queries the black box for every instance it explains.

    Subclasses implement ``_explain(X, targets, n_samples, streams, **options)`` for a
    batch X (B, d) with per-instance targets (B,) and random streams, returning a batched
    Explanation over the B instances. ``vectorized = False`` (or ``_is_vectorized``
    returning False for some options) makes the base call it one instance at a time
    (methods whose design adapts per instance). Batches are explained in chunks of
    instances so that their working memory (``_bytes_per_instance``) stays below
    ``BYTES_PER_CHUNK``; an instance that alone would need more than half the machine's
    memory is refused before anything is allocated.

    Args:
        n_samples: black-box queries per instance when ``explain`` is not told otherwise.
        keep_data: store the perturbations and black-box answers in each explanation
            (observed and constant data: posterior predictive checks, pointwise
            log-likelihoods); ``None`` (default) stores them while a call's perturbations
            are under 32 MB (:data:`KEEP_PERTURBATIONS_MAX`), so that a large batch costs
            memory for its attributions, not for its B x n x d perturbations. ``_explain``
            receives the decision as its ``keep_data`` option.
    """

    vectorized = True
    min_samples = 2

    def __init__(self, model, *, n_samples: int = 1000, keep_data: bool | None = None,
                 **options):
        super().__init__(model, **options)
        self.keep_data = None if keep_data is None else bool(keep_data)
        if self.device != self.bb.device:
            raise ValueError(f"device={str(self.device)!r} but the BlackBox lives on "
                             f"{self.bb.device}; build the BlackBox with that device")
        self.n_samples = check_count("n_samples", n_samples, minimum=self.min_samples)

    def explain(self, x, n_samples: int | None = None, *, target=None, **options
                ) -> Explanation:
        """Explain one instance x (d,) or a batch (B, d) (numpy, torch or pandas).

        Args:
            n_samples: black-box queries per instance (default: the explainer's).
            target: the output explained: an index, one per instance, or
                ``"predicted"`` (default: the black box's target, else the method's
                convention).
            options: the method's own options (see its ``explain``).

        Returns:
            an :class:`~probex.Explanation` with arrays (d,) for one instance, (B, d)
            for a batch (index it with ``e[i]``).
        """
        X, single = as_instances(self.bb, x)
        n = self._check_call(n_samples, X.shape[1], options)
        return self._explain_rows(X, np.arange(X.shape[0]), single, n, target, options)

    def _check_call(self, n_samples, n_features: int, options: dict) -> int:
        """The budget as an int, checked before any work: a positive integer, what the
        method's design needs (``_check_budget``), and memory that fits."""
        n = self.n_samples if n_samples is None else check_count(
            "n_samples", n_samples, minimum=self.min_samples)
        self._check_budget(n, n_features, options)
        size = self._size_description(n, n_features, options)
        check_memory(f"explaining one instance ({size})",
                     self._bytes_per_instance(n, n_features, options))
        return n

    def _check_budget(self, n_samples: int, n_features: int, options: dict) -> None:
        """A ValueError naming ``n_samples`` when the method cannot work with it."""

    def _explain_rows(self, X: torch.Tensor, rows, single: bool, n_samples, target,
                      options: dict) -> Explanation:
        """Explain instances X whose random streams are those of data-set ``rows``
        (``n_samples`` as checked by :meth:`_check_call`)."""
        n = self._check_call(n_samples, X.shape[1], options)
        streams = RowStreams(self.seed, rows)
        self._check_instances(X)
        per_instance = self._bytes_per_instance(n, X.shape[1], options)
        keep = self.keep_data
        if keep is None:  # store perturbations while the whole call's are small
            keep = keep_perturbations((X.shape[0], n, X.shape[1]))
        options = {**options, "keep_data": keep}
        with self.bb.counting() as counter, single_intra_op_thread():
            targets = self._targets(target, X)
            if self._is_vectorized(options):
                per_chunk = max(1, BYTES_PER_CHUNK // per_instance)
            else:
                per_chunk = 1
            parts = []
            for i in range(0, X.shape[0], per_chunk):
                parts.append(self._explain(X[i:i + per_chunk], targets[i:i + per_chunk], n,
                                           streams.subset(slice(i, i + per_chunk)), **options))
                if per_chunk < X.shape[0]:
                    release_freed_memory()
        explanation = parts[0] if len(parts) == 1 else Explanation.concat(parts)
        return self._package(explanation, n_queries=counter.n, targets=targets,
                             single=single)

    def _bytes_per_instance(self, n_samples: int, n_features: int, options: dict) -> int:
        """Working memory of explaining one instance: about ten float64 arrays of its
        perturbations' size are alive at the peak (interpretable rows, model inputs and
        their copies for the model, the centred and weighted designs; measured)."""
        return 8 * 10 * n_samples * n_features

    def _check_instances(self, X: torch.Tensor) -> None:
        """Warn about instances the method cannot explain meaningfully (none here)."""

    def _size_description(self, n_samples: int, n_features: int, options: dict) -> str:
        return f"n_samples={n_samples}, {n_features} features"

    def _is_vectorized(self, options: dict) -> bool:
        """Whether ``_explain`` takes several instances at once with these options."""
        return self.vectorized

    def _explain(self, X: torch.Tensor, targets: torch.Tensor, n_samples: int,
                 streams: RowStreams, **options) -> Explanation:
        raise NotImplementedError


class AmortizedExplainer(Explainer):
    """A method fitted once that then explains by one forward pass, without queries.

    Subclasses implement ``fit(X, ...)`` (setting ``history_`` and ``n_queries_fit_``)
    and ``_explain(X, targets, streams, **options)`` for a batch (B, d).

    After ``fit``: ``history_`` (a DataFrame, one row per training step) and
    ``n_queries_fit_`` (black-box rows spent training; kept across resumed fits).
    """

    default_target = "predicted"
    uncertainty = "selection_spread"

    def __init__(self, model, **options):
        super().__init__(model, **options)
        self.history_ = None
        self.n_queries_fit_ = 0

    @property
    def is_fitted(self) -> bool:
        return self.history_ is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def explain(self, x, *, target=None, **options) -> Explanation:
        """Explain one instance x (d,) or a batch (B, d) (numpy, torch or pandas) by one
        forward pass of the fitted networks.

        Args:
            target: the class explained: an index, one per instance, or ``"predicted"``
                (default: the black box's target, else the predicted class).
            options: the method's own options (see its ``explain``).
        """
        self._check_fitted()
        X, single = as_instances(self.bb, x)
        return self._explain_rows(X, np.arange(X.shape[0]), single, None, target, options)

    def _explain_rows(self, X: torch.Tensor, rows, single: bool, n_samples, target,
                      options: dict) -> Explanation:
        streams = RowStreams(self.seed, rows)
        with self.bb.counting() as counter, single_intra_op_thread():
            targets = self._targets(target, X)
            explanation = self._explain(X, targets, streams, **options)
        return self._package(explanation, n_queries=counter.n, targets=targets,
                             single=single)

    def _explain(self, X: torch.Tensor, targets: torch.Tensor, streams: RowStreams,
                 **options) -> Explanation:
        raise NotImplementedError


