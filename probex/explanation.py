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
"""

from __future__ import annotations

import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
from scipy import stats

from probex._io import write_atomically

__all__ = ["Explanation", "write_atomically", "UNCERTAINTY"]

_VAR = "attribution"

#: What ``sd`` and ``hdi`` describe, by the value of the ``uncertainty`` attribute.
UNCERTAINTY = {
    "posterior": "posterior uncertainty of the attribution given the queries made",
    "monte_carlo_error": "Monte Carlo error of an estimator of a fixed quantity",
    "selection_spread": "spread of a stochastic selection mask (not an estimation error)",
}


class Explanation:
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
            for group in self._idata.groups():
                self._idata[group].attrs.update(attrs)
        elif self._build is not None:
            build = self._build

            def build_with_attrs():
                idata = build()
                for group in idata.groups():
                    idata[group].attrs.update(attrs)
                return idata

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

    def __getitem__(self, index: int) -> Explanation:
        if not self.is_batch:
            raise TypeError("this explanation is for a single instance; it cannot be indexed")
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index an explanation with an integer, got {index!r}")
        if not -n <= index < n:
            raise IndexError(f"instance {index} out of range for {n} instances")
        index = int(index) % n
        attrs = self._instance_attrs(index)
        if self._idata is None:
            build = (None if self._build is None
                     else lambda: self.idata.isel(instance=index))
            one = Explanation.deferred(self._closed.isel(instance=index), self._attrs,
                                       build, self._trace)
        else:
            one = Explanation(self.idata.isel(instance=index))
        return one.with_attrs(**attrs)

    def _instance_attrs(self, index: int) -> dict:
        """Per-instance metadata of a batch (arrays over instances) for instance ``index``."""
        out = {"n_instances": 1}
        value = np.asarray(self._attrs.get("target", []))
        if value.ndim == 1 and value.shape[0] == len(self):
            out["target"] = value[index].item()
        return out

    @classmethod
    def concat(cls, explanations) -> Explanation:
        """Join batched explanations of the same method and features along ``instance``
        (e.g. chunks of a data set), numbering instances 0..n-1 in order. Per-instance
        ``target`` is joined and ``n_queries`` summed; other metadata is the first's."""
        import xarray as xr

        parts = list(explanations)
        if not parts:
            raise ValueError("concat needs at least one explanation")
        if not all(e.is_batch for e in parts):
            raise ValueError("concat joins batched explanations; index single ones first")
        names = parts[0].feature_names
        if any(e.feature_names != names for e in parts):
            raise ValueError("explanations to join must have the same feature names")
        attrs = dict(parts[0]._attrs)
        attrs["n_queries"] = int(sum(e.n_queries for e in parts))
        attrs["n_instances"] = int(sum(len(e) for e in parts))
        if "target" in attrs:
            attrs["target"] = np.concatenate(
                [np.broadcast_to(np.asarray(e._attrs.get("target", -1)), (len(e),))
                 for e in parts])
        offsets = np.cumsum([0] + [len(e) for e in parts])[:-1]
        if all(e._idata is None for e in parts):
            closed = xr.concat([_renumbered(e._closed, o) for e, o in zip(parts, offsets,
                                                                          strict=True)],
                               dim="instance")
            build = (None if not all(e.has_draws for e in parts)
                     else lambda: _concat_idata(parts, offsets, attrs))
            return cls.deferred(closed, attrs, build)
        return cls(_concat_idata(parts, offsets, attrs))

    def take(self, positions) -> Explanation:
        """The instances at ``positions`` (integers) of a batch, as a batch; per-instance
        metadata (``target``) is taken along."""
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if not self.is_batch:
            raise TypeError("take selects instances of a batch")
        attrs = {"n_instances": len(positions)}
        target = np.asarray(self._attrs.get("target", []))
        if target.ndim == 1 and target.shape[0] == len(self):
            attrs["target"] = target[positions]
        if self._idata is None:
            build = (None if self._build is None
                     else lambda: self.idata.isel(instance=positions))
            one = Explanation.deferred(self._closed.isel(instance=positions), self._attrs,
                                       build, self._trace)
        else:
            one = Explanation(self.idata.isel(instance=positions))
        return one.with_attrs(**attrs)

    def with_instances(self, labels) -> Explanation:
        """This batch with its instances labelled ``labels`` (n,) integers, e.g. the rows
        of a data set; the numbers are unchanged."""
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if not self.is_batch or labels.shape[0] != len(self):
            raise ValueError(f"with_instances needs one label per instance ({len(self)}), "
                             f"got {labels.shape[0]}")

        def relabel(dataset):
            return (dataset.assign_coords(instance=labels) if "instance" in dataset.dims
                    else dataset)

        def relabelled(idata):
            return az.InferenceData(**{g: relabel(idata[g]) for g in idata.groups()})

        if self._idata is None:
            build = None if self._build is None else (lambda: relabelled(self.idata))
            return Explanation.deferred(relabel(self._closed), self._attrs, build, self._trace)
        return Explanation(relabelled(self._idata))

    def compact(self) -> Explanation:
        """This explanation with only what its numbers need, for storing many of them.

        An explanation whose mean, sd and intervals all come from closed-form marginals
        (Student-t or normal) keeps those (group ``closed_form``) and its design trace:
        its numbers are unchanged, and the draws are never built. Any other keeps its
        draws and sampler statistics but drops the perturbations, black-box answers and
        the model-checking groups built on them (``constant_data``, ``observed_data``,
        ``log_likelihood``, ``posterior_predictive``, ``prior``, ``prior_predictive``).
        The result has ``compact=1`` in its metadata.
        """
        attrs = {**self._attrs, "compact": 1}
        cf = self._closed
        if cf is not None and ("df" in cf or cf.attrs.get("distribution") == "normal"):
            return Explanation.deferred(cf, attrs, None, self._trace)
        dropped = ("constant_data", "observed_data", "log_likelihood", "posterior_predictive",
                   "prior", "prior_predictive")
        keep = [g for g in self.idata.groups() if g not in dropped]
        idata = az.InferenceData(**{g: self.idata[g] for g in keep})
        return Explanation(idata).with_attrs(compact=1)

    # ------------------------------------------------------------------ numbers
    @property
    def mean(self) -> np.ndarray:
        """Posterior mean attribution, (d,) or (n, d)."""
        if self.is_exact:
            return self._closed["loc"].values.copy()
        return self._attribution.mean(("chain", "draw")).values

    @property
    def sd(self) -> np.ndarray:
        """Standard deviation of each attribution, (d,) or (n, d): of the posterior, of the
        estimator's Monte Carlo error, or of the selection mask, as ``uncertainty`` says."""
        if self.is_exact:
            return self._closed["sd"].values.copy()
        return self._attribution.std(("chain", "draw"), ddof=1).values

    def hdi(self, prob: float = 0.95) -> np.ndarray:
        """Highest-density interval of each attribution, (d, 2) or (n, d, 2).

        Closed-form marginals are used where the explanation has them: Student-t (exact
        conjugate posteriors; ``df`` and ``scale`` in the ``closed_form`` group) or normal
        (``distribution="normal"``, from ``loc`` and ``sd``); both are symmetric, so the
        central interval is the HDI. Otherwise ArviZ's HDI of the draws.
        """
        if not 0 < prob < 1:
            raise ValueError(f"prob must be in (0, 1), got {prob}")
        cf = self._closed
        if cf is not None and "df" in cf:
            loc = cf["loc"].values
            df = cf["df"].values
            quantile = stats.t.ppf(0.5 + prob / 2, df)  # df per instance, or per feature
            half = (quantile if df.ndim == loc.ndim else quantile[..., None]) * cf["scale"].values
            return np.stack([loc - half, loc + half], axis=-1)
        if cf is not None and cf.attrs.get("distribution") == "normal":
            half = stats.norm.ppf(0.5 + prob / 2) * cf["sd"].values
            return np.stack([cf["loc"].values - half, cf["loc"].values + half], axis=-1)
        blocks = self._lazy_blocks()
        if blocks is not None:
            return np.concatenate([block.hdi(prob) for block in blocks])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interval = az.hdi(self.idata, var_names=[_VAR], hdi_prob=prob)[_VAR]
        order = [d for d in self._attribution.dims if d not in ("chain", "draw")] + ["hdi"]
        return interval.transpose(*order).values

    def _lazy_blocks(self) -> list[Explanation] | None:
        """For a batch whose draws are opened lazily: one in-memory explanation per
        stored block of instances (e.g. per chunk file), else None."""
        if self._idata is None or not self.is_batch:
            return None
        attribution = self._idata.posterior[_VAR]
        if attribution.chunks is None:
            return None
        sizes = attribution.chunksizes["instance"]
        bounds = np.cumsum((0,) + tuple(sizes))
        groups = [g for g in ("posterior", "sample_stats") if g in self._idata.groups()]
        return [Explanation(az.InferenceData(**{
            g: self._idata[g].isel(instance=slice(a, b)).load() for g in groups}))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def summary(self, prob: float = 0.95) -> pd.DataFrame:
        """Table indexed by feature (and instance for batches): mean, sd, HDI bounds and,
        for sampled posteriors (SVI, NUTS), ArviZ's MCSE, bulk/tail ESS and r_hat
        (computed for every instance and feature at once,
        :mod:`probex.inference.batch_diagnostics`: the same numbers as ``az.summary``,
        3-4x faster on a batch); the column ``uncertainty`` says what sd and the HDI
        describe (:data:`UNCERTAINTY`).

        Closed-form explanations report their exact marginals only: diagnostics of the
        iid draws kept for plotting would say nothing about the inference.
        """
        low, high = f"hdi_{100 * (1 - prob) / 2:g}%", f"hdi_{100 * (1 + prob) / 2:g}%"
        blocks = None if self.is_exact else self._lazy_blocks()
        if self.is_exact:
            interval = self.hdi(prob).reshape(-1, 2)
            table = pd.DataFrame({"mean": self.mean.reshape(-1), "sd": self.sd.reshape(-1),
                                  low: interval[:, 0], high: interval[:, 1]})
        elif blocks is not None:  # draws opened lazily: one block of instances at a time
            table = pd.concat([block.summary(prob) for block in blocks]).drop(
                columns="uncertainty")
        else:  # az.summary's columns, computed for all instances and features at once
            from probex.inference.batch_diagnostics import summary_statistics

            interval = self.hdi(prob).reshape(-1, 2)
            values = self._attribution.transpose("chain", "draw", ...).values
            columns = summary_statistics(values.reshape(*values.shape[:2], -1))
            table = pd.DataFrame({"mean": columns["mean"], "sd": columns["sd"],
                                  low: interval[:, 0], high: interval[:, 1],
                                  **{k: columns[k] for k in ("mcse_mean", "mcse_sd",
                                                             "ess_bulk", "ess_tail", "r_hat")}})
        if self.is_batch:
            table.index = pd.MultiIndex.from_product(
                [self.instances, self.feature_names], names=["instance", "feature"])
        else:
            table.index = pd.Index(self.feature_names, name="feature")
        table["uncertainty"] = self.uncertainty
        table.attrs["uncertainty"] = UNCERTAINTY.get(self.uncertainty, self.uncertainty)
        table.attrs["diagnostics"] = self.diagnostics
        return table

    def to_dataframe(self, prob: float = 0.95) -> pd.DataFrame:
        """Long format, one row per (instance, feature): ``instance`` (the label, 0 for a
        single instance), ``feature``, ``mean``, ``sd``, the ``prob`` HDI bounds
        (``hdi_2.5%``, ``hdi_97.5%``), ``uncertainty`` (what sd and the HDI describe) and,
        for sampled posteriors, ``r_hat``, ``ess_bulk`` and ``ess_tail``.
        """
        table = self.summary(prob)
        low, high = (c for c in table.columns if c.startswith("hdi_"))
        columns = ["mean", "sd", low, high, "uncertainty"] + [
            c for c in ("r_hat", "ess_bulk", "ess_tail") if c in table.columns]
        frame = table[columns].reset_index()
        if not self.is_batch:
            frame.insert(0, "instance", 0)
        frame["instance"] = frame["instance"].astype(np.int64)
        frame.attrs.update(table.attrs)
        return frame

    def top_features(self, k: int = 5) -> list[str]:
        """Names of the k features with the largest absolute mean attribution."""
        if self.is_batch:
            raise TypeError("top_features is per instance: use e[i].top_features(k)")
        order = np.argsort(-np.abs(self.mean), kind="stable")[:k]
        return [self.feature_names[j] for j in order]

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

    def to_netcdf(self, path) -> Path:
        """Write the whole explanation to a netCDF file (atomically); returns the path.
        A compact explanation without draws writes its closed-form marginals (and design
        trace), with the metadata on group ``closed_form``."""
        if not self.has_draws:
            return write_atomically(path, self._write_marginals)
        return write_atomically(path, lambda tmp: self.idata.to_netcdf(tmp, engine="h5netcdf"))

    def _write_marginals(self, path) -> None:
        from probex.inference.idata import netcdf_attrs

        closed = self._closed.copy()
        closed.attrs = {**self._closed.attrs, **netcdf_attrs(self._attrs)}
        closed.to_netcdf(path, mode="w", group="closed_form", engine="h5netcdf")
        if self._trace is not None:
            self._trace.to_netcdf(path, mode="a", group="design_trace", engine="h5netcdf")

    @classmethod
    def from_netcdf(cls, path) -> Explanation:
        """Read an explanation written by :meth:`to_netcdf` (compact ones included)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no explanation file at {str(path)!r}")
        try:
            idata = az.from_netcdf(path, engine="h5netcdf")
            if "posterior" not in idata.groups() and "closed_form" in idata.groups():
                return cls.from_marginals(idata.closed_form, idata.get("design_trace"))
            return cls(idata)
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise ValueError(f"{str(path)!r} is not a readable probex explanation "
                             f"({type(err).__name__}: {err})") from None

    @classmethod
    def from_marginals(cls, closed_form, trace=None) -> Explanation:
        """A compact explanation from a ``closed_form`` dataset that carries the metadata
        in its attributes (as :meth:`to_netcdf` writes it); it may be dask-backed."""
        attrs = {k: v for k, v in closed_form.attrs.items() if k != "distribution"}
        return cls.deferred(closed_form, attrs, None, trace)

    def __repr__(self) -> str:
        head = (f"Explanation(method={self.method!r}, inference={self.inference!r}, "
                f"uncertainty={self.uncertainty!r}, ")
        if self.is_batch:
            return head + f"instances={len(self)}, features={len(self.feature_names)})"
        top = ", ".join(f"{name}={value:+.3g}" for name, value in
                        zip(self.top_features(3), self.mean[np.argsort(-np.abs(self.mean))[:3]],
                            strict=True))
        return head + f"n_queries={self.n_queries}, top: {top})"


def _renumbered(dataset, start: int):
    """``dataset`` with its instance coordinate shifted to start at ``start``."""
    return dataset.assign_coords(instance=np.arange(dataset.sizes["instance"]) + start)


def _concat_idata(parts, offsets, attrs) -> az.InferenceData:
    """The InferenceData of several batched explanations joined along ``instance``;
    groups without an instance dimension (e.g. a shared design) are taken from the first."""
    import xarray as xr

    from probex.inference.idata import netcdf_attrs

    groups = {}
    for group in parts[0].idata.groups():
        datasets = [e.idata[group] for e in parts]
        if "instance" not in datasets[0].dims:
            groups[group] = datasets[0]
            continue
        datasets = [_renumbered(d, o) for d, o in zip(datasets, offsets, strict=True)]
        groups[group] = xr.concat(datasets, dim="instance", data_vars="minimal",
                                  coords="minimal", compat="override", join="outer")
    idata = az.InferenceData(**groups)
    meta = netcdf_attrs(attrs)
    for group in idata.groups():
        idata[group].attrs.update(meta)
    return idata
