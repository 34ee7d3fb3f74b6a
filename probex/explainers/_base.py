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
``(seed, row i)`` (:class:`RowStreams`), so its explanation does not depend on which
other rows share the batch, on chunking or on scheduling.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from probex._checks import as_tensor, check_count, check_memory, check_seed, resolve_device
from probex._version import __version__
from probex.blackbox import BlackBox, as_blackbox, check_target
from probex.diagnostics import DataWarning
from probex.explanation import Explanation

__all__ = ["Explainer", "LocalExplainer", "AmortizedExplainer", "RowStreams",
           "as_instances", "as_background", "resolve_targets", "warn_unmaskable"]

#: working memory of one chunk of a batched explanation; larger batches are explained in
#: chunks of instances, so peak memory is bounded by a chunk, not by the batch.
BYTES_PER_CHUNK = 2**28


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
        explanation.with_attrs(method=self.method, uncertainty=self.uncertainty,
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
    """

    vectorized = True
    min_samples = 2

    def __init__(self, model, *, n_samples: int = 1000, **options):
        super().__init__(model, **options)
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
        return self._explain_rows(X, np.arange(X.shape[0]), single, n_samples, target,
                                  options)

    def _explain_rows(self, X: torch.Tensor, rows, single: bool, n_samples, target,
                      options: dict) -> Explanation:
        """Explain instances X whose random streams are those of data-set ``rows``."""
        n = self.n_samples if n_samples is None else check_count(
            "n_samples", n_samples, minimum=self.min_samples)
        streams = RowStreams(self.seed, rows)
        self._check_instances(X)
        per_instance = self._bytes_per_instance(n, X.shape[1], options)
        check_memory(f"explaining one instance ({self._size_description(n, X.shape[1], options)})",
                     per_instance)
        with self.bb.counting() as counter:
            targets = self._targets(target, X)
            if self._is_vectorized(options):
                per_chunk = max(1, BYTES_PER_CHUNK // per_instance)
            else:
                per_chunk = 1
            parts = [self._explain(X[i:i + per_chunk], targets[i:i + per_chunk], n,
                                   streams.subset(slice(i, i + per_chunk)), **options)
                     for i in range(0, X.shape[0], per_chunk)]
        explanation = parts[0] if len(parts) == 1 else Explanation.concat(parts)
        return self._package(explanation, n_queries=counter.n, targets=targets,
                             single=single)

    def _bytes_per_instance(self, n_samples: int, n_features: int, options: dict) -> int:
        """Working memory of explaining one instance (float64 arrays of perturbations:
        interpretable rows, model inputs, the centred and weighted designs)."""
        return 8 * 4 * n_samples * n_features

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
        with self.bb.counting() as counter:
            targets = self._targets(target, X)
            explanation = self._explain(X, targets, streams, **options)
        return self._package(explanation, n_queries=counter.n, targets=targets,
                             single=single)

    def _explain(self, X: torch.Tensor, targets: torch.Tensor, streams: RowStreams,
                 **options) -> Explanation:
        raise NotImplementedError


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
