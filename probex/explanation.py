"""The result object of every explainer: a posterior over attributions.

An :class:`Explanation` is a thin view over an ``arviz.InferenceData`` that holds
everything needed to reproduce and report it: the posterior (variable ``attribution``
with dims ``(chain, draw, [instance,] feature)``), sampler statistics, the perturbations
and black-box answers (observed/constant data), closed-form marginals when the posterior
is exact (group ``closed_form``), a per-round design trace for adaptive methods (group
``design_trace``) and metadata in the posterior's attributes. Saving it to netCDF and
reading it back therefore loses nothing.

A *compact* explanation (:meth:`Explanation.compact`) keeps only what its numbers need:
the closed-form marginals of an exact posterior (no draws are ever built), or the draws
and sampler statistics of a sampled one (no perturbations or black-box answers); data
sets explained by :func:`probex.explain_dataset` are stored that way. An explanation may
also be backed by files opened lazily (xarray over dask arrays): its numbers are then
computed block by block of instances, never holding every draw in memory.

This module holds the class's state, constructors and metadata; its numbers, batch
operations and files are mixins from :mod:`probex._explanation_numbers`,
:mod:`probex._explanation_batch` and :mod:`probex._explanation_files`.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from probex._explanation_batch import BatchMixin
from probex._explanation_files import FilesMixin
from probex._explanation_numbers import _VAR, UNCERTAINTY, NumbersMixin
from probex._io import write_atomically

__all__ = ["Explanation", "write_atomically", "UNCERTAINTY"]


class Explanation(NumbersMixin, BatchMixin, FilesMixin):
    """Posterior attributions for one instance, or a batch of instances.

    Attributes are numpy arrays over features, shape (d,) for one instance and (n, d)
    for a batch; index a batch (``e[i]``) to get one instance's explanation.

    An explanation is built from an ``arviz.InferenceData`` (``Explanation(idata)``), or,
    for closed-form posteriors, from their exact marginals with the InferenceData built
    only when first asked for (:meth:`deferred`): the numbers (``mean``, ``sd``, ``hdi``,
    ``summary``) never need draws, so explaining costs little more than the black-box
    queries, and ``idata``, ``plot()`` and ``to_netcdf()`` still see the whole posterior.

    Batched explanations label their instances by the coordinate ``instance`` (0..n-1,
    or the data set's row numbers for :func:`probex.explain_dataset`); ``e[i]`` indexes by
    position.
    """

    def __init__(self, idata: az.InferenceData):
        if "posterior" not in idata.groups() or _VAR not in idata.posterior:
            raise ValueError(f"an Explanation needs a posterior group with variable {_VAR!r}")
        self._idata = idata
        self._build = None
        attribution = idata.posterior[_VAR]
        self._attrs = dict(idata.posterior.attrs)
        self._feature_names = [str(f) for f in attribution.coords["feature"].values]
        self._n_instances = (attribution.sizes["instance"] if "instance" in attribution.dims
                             else None)
        groups = idata.groups()
        self._closed = idata.closed_form if "closed_form" in groups else None
        self._trace = idata.design_trace if "design_trace" in groups else None

    @classmethod
    def deferred(cls, closed_form, attrs: dict, build, trace=None) -> Explanation:
        """An explanation whose InferenceData is built by ``build()`` on first use.

        Args:
            closed_form: ``xarray.Dataset`` of exact marginals with ``loc`` and ``sd``
                (dims ``[instance,] feature``), plus ``df`` and ``scale`` for Student-t
                marginals or the attribute ``distribution="normal"``.
            attrs: the metadata the built posterior group will carry.
            build: a callable returning the full ``InferenceData``, which must include
                ``closed_form`` (and ``trace`` as group ``design_trace``); ``None`` for a
                compact explanation, which has no draws (``idata`` then raises).
            trace: an ``xarray.Dataset`` over ``round`` for adaptive designs, or None.
        """
        self = cls.__new__(cls)
        self._idata = None
        self._build = build
        self._attrs = dict(attrs)
        self._feature_names = [str(f) for f in closed_form.coords["feature"].values]
        self._n_instances = (closed_form.sizes["instance"] if "instance" in closed_form.dims
                             else None)
        self._closed = closed_form
        self._trace = trace
        return self

    @property
    def idata(self) -> az.InferenceData:
        """The whole posterior as ``arviz.InferenceData`` (built on first access).

        Raises:
            ValueError: for a compact explanation of a closed-form posterior, which keeps
                its exact marginals only.
        """
        if self._idata is None and self._build is None:
            raise ValueError(
                "this explanation is compact: it keeps the closed-form marginals of its "
                "exact posterior (mean, sd, hdi, summary) but no draws, perturbations or "
                "black-box answers; explain again (explain_dataset(..., store='full')) to "
                "keep them")
        if self._idata is None:
            self._idata = self._build()
            self._build = None
        return self._idata

    @classmethod
    def from_draws(cls, attribution, feature_names, *, method: str, inference: str,
                   n_queries: int = 0, closed_form: dict | None = None,
                   sample_stats: dict | None = None, constant_data: dict | None = None,
                   observed_data: dict | None = None, dims: dict | None = None,
                   coords: dict | None = None, attrs: dict | None = None) -> Explanation:
        """Build an explanation from draws of the attributions, for any method.

        Args:
            attribution: draws of shape (chain, draw, d) for one instance or
                (chain, draw, n, d) for n instances: posterior draws, Monte Carlo draws
                that define an estimator, or mask draws of a stochastic selector.
            feature_names: the d names (coordinate ``feature``).
            method, inference: recorded in the metadata (e.g. ``"LEX"``, ``"amortized"``).
            n_queries: black-box rows spent on this explanation.
            closed_form: exact marginals where the method has them: ``{"loc": (..., d),
                "sd": (..., d)}`` and optionally ``"distribution": "normal"`` (then
                :meth:`hdi` uses normal quantiles). ``mean`` and ``sd`` report these
                instead of the draws' moments.
            sample_stats, constant_data, observed_data: extra ArviZ groups; arrays whose
                trailing axes are named in ``dims`` (``instance``, ``feature`` are known).
            attrs: further metadata (numbers and strings).
        """
        from probex.inference.draws import PosteriorDraws
        from probex.inference.idata import to_inference_data

        draws = np.asarray(attribution, dtype=float)
        if draws.ndim not in (3, 4):
            raise ValueError(f"attribution draws must be (chain, draw, [instance,] feature); "
                             f"got shape {draws.shape}")
        names = [str(n) for n in feature_names]
        if draws.shape[-1] != len(names):
            raise ValueError(f"{draws.shape[-1]} attributions per draw but {len(names)} "
                             f"feature names")
        batch = draws.ndim == 4
        site_dims = ["instance", "feature"] if batch else ["feature"]
        all_coords = {"feature": names, **(coords or {})}
        if batch:
            all_coords.setdefault("instance", np.arange(draws.shape[2]))
        idata = to_inference_data(
            PosteriorDraws({_VAR: draws}, inference, sample_stats=sample_stats or {}),
            observed_data=observed_data, constant_data=constant_data, coords=all_coords,
            dims={_VAR: site_dims, **(dims or {})},
            attrs={"method": method, "n_queries": int(n_queries),
                   "n_instances": draws.shape[2] if batch else 1, **(attrs or {})},
        )
        if closed_form is not None:
            import xarray as xr

            distribution = closed_form.get("distribution", "normal")
            groups = {key: (site_dims, np.asarray(closed_form[key], dtype=float))
                      for key in ("loc", "sd")}
            idata.add_groups({"closed_form": xr.Dataset(
                groups, coords={k: v for k, v in all_coords.items() if k in site_dims},
                attrs={"distribution": distribution})})
        return cls(idata)

    # ------------------------------------------------------------------ metadata
    @property
    def _attribution(self):
        return self.idata.posterior[_VAR]

    @property
    def attrs(self) -> dict:
        """Metadata: method, inference, n_queries, target, prior, kernel, ..."""
        return dict(self._attrs)

    @property
    def method(self) -> str:
        return str(self._attrs.get("method", "unknown"))

    @property
    def inference(self) -> str:
        return str(self._attrs.get("inference", "unknown"))

    @property
    def targets(self):
        """The output each instance explains: an int for one instance, (n,) ints for a
        batch (-1: the method explains no single output, e.g. LEX's selection)."""
        value = np.asarray(self._attrs.get("target", -1))
        if not self.is_batch:
            return int(value.reshape(-1)[0])
        return np.broadcast_to(value, (len(self),)).astype(int).copy()

    @property
    def uncertainty(self) -> str:
        """What ``sd`` and ``hdi`` describe: ``"posterior"`` (surrogate methods),
        ``"monte_carlo_error"`` (SmoothGrad, RISE) or ``"selection_spread"`` (LEX, FEX);
        see :data:`UNCERTAINTY`."""
        return str(self._attrs.get("uncertainty", "posterior"))

    @property
    def diagnostics(self) -> str:
        """The sampler's verdict: ``"ok"``, the problems found (divergences, r_hat, ESS,
        E-BFMI, unconverged SVI), or ``"none needed"`` for closed forms and Monte Carlo
        estimators whose error is reported directly."""
        return str(self._attrs.get("diagnostics", "none needed"))

    def with_attrs(self, **attrs) -> Explanation:
        """Add metadata (numbers, strings, 1-D numeric arrays) to this explanation, in
        place, and return it; stored on every InferenceData group, built or not."""
        from probex.inference.idata import netcdf_attrs

        attrs = netcdf_attrs(attrs)
        self._attrs.update(attrs)
        if self._idata is not None:
            _set_group_attrs(self._idata, attrs)
        elif self._build is not None:
            build = self._build

            def build_with_attrs():
                return _set_group_attrs(build(), attrs)

            self._build = build_with_attrs
        return self

    @property
    def n_queries(self) -> int:
        """Rows sent to the black box to produce this explanation."""
        return int(self._attrs.get("n_queries", 0))

    @property
    def feature_names(self) -> list[str]:
        return list(self._feature_names)

    @property
    def is_batch(self) -> bool:
        return self._n_instances is not None

    @property
    def is_exact(self) -> bool:
        """Whether mean and sd come from closed-form marginals (group ``closed_form``)."""
        return self._closed is not None

    @property
    def has_draws(self) -> bool:
        """Whether the draws (``idata``) are available: False for a compact explanation of
        a closed-form posterior."""
        return self._idata is not None or self._build is not None

    @property
    def is_lazy(self) -> bool:
        """Whether the arrays are opened lazily from files (dask-backed); the numbers are
        then computed block by block of instances."""
        data = self._closed if self._closed is not None else self._idata.posterior
        return any(v.chunks is not None for v in data.data_vars.values())

    @property
    def instances(self) -> np.ndarray:
        """Labels of the instances of a batch, (n,): the coordinate ``instance`` (0..n-1,
        or the data set's row numbers); ``[0]`` for a single instance."""
        if not self.is_batch:
            return np.zeros(1, dtype=np.int64)
        data = self._closed if self._closed is not None else self._idata.posterior
        if "instance" in data.coords:
            return np.asarray(data.coords["instance"].values)
        return np.arange(len(self))

    @property
    def trace(self) -> pd.DataFrame | None:
        """Per-round design trace of adaptive methods (EAGLE, focused sampling), else None."""
        return None if self._trace is None else self._trace.to_dataframe()

    def __len__(self) -> int:
        return self._n_instances if self.is_batch else 1

    # ------------------------------------------------------------------ output
    def plot(self, *, prob: float = 0.95, max_features: int | None = 30,
             diagnostics: bool = False, path=None, ax=None):
        """Forest plot of the attributions with their HDIs (ArviZ), largest |mean| on top.

        ``diagnostics=True`` adds r_hat and ESS panels. With ``path`` a PNG is also
        written there (atomically). Returns the matplotlib Axes.
        """
        from probex.plots import forest

        return forest(self, prob=prob, max_features=max_features, diagnostics=diagnostics,
                      path=path, ax=ax)

    def __repr__(self) -> str:
        head = (f"Explanation(method={self.method!r}, inference={self.inference!r}, "
                f"uncertainty={self.uncertainty!r}, ")
        if self.is_batch:
            return head + f"instances={len(self)}, features={len(self.feature_names)})"
        top = ", ".join(f"{name}={value:+.3g}" for name, value in
                        zip(self.top_features(3), self.mean[np.argsort(-np.abs(self.mean))[:3]],
                            strict=True))
        return head + f"n_queries={self.n_queries}, top: {top})"


def _set_group_attrs(idata: az.InferenceData, attrs: dict) -> az.InferenceData:
    """Give every group of ``idata`` new attrs with ``attrs`` added. xarray's selections
    (``isel``, which ``e[i]`` and ``take`` use) share the attrs dict with the batch they
    come from, so updating it in place would rewrite the batch's metadata."""
    for group in idata.groups():
        dataset = idata[group]
        dataset.attrs = {**dataset.attrs, **attrs}
    return idata
