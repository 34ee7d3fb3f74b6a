"""The instances of a batched explanation: indexing, taking, relabelling, joining
batches, and the compact form that data-set runs store.

:class:`BatchMixin` is one of the bases of :class:`probex.explanation.Explanation`.
Explanations whose InferenceData is not built yet stay deferred: the closed-form
marginals are selected or joined at once and the draws only when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import arviz as az
import numpy as np

if TYPE_CHECKING:
    from probex.explanation import Explanation

__all__ = ["BatchMixin"]


class BatchMixin:
    """``e[i]``, :meth:`take`, :meth:`with_instances`, :meth:`concat` and :meth:`compact`
    of an :class:`~probex.explanation.Explanation`."""

    def __getitem__(self, index: int) -> Explanation:
        if not self.is_batch:
            raise TypeError("this explanation is for a single instance; it cannot be indexed")
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index an explanation with an integer, got {index!r}")
        if not -n <= index < n:
            raise IndexError(f"instance {index} out of range for {n} instances")
        index = int(index) % n
        # one instance of lazily opened chunk files is loaded: small, and ArviZ needs numpy
        return self._select(index, load=True).with_attrs(**self._instance_attrs(index))

    def _select(self, indexer, load: bool = False) -> Explanation:
        """The instances ``indexer`` (an int or positions), deferred while this one is;
        ``load`` reads lazily opened draws into memory."""
        from probex.explanation import Explanation

        if self._idata is None:
            build = (None if self._build is None
                     else lambda: self.idata.isel(instance=indexer))
            return Explanation.deferred(self._closed.isel(instance=indexer), self._attrs,
                                        build, self._trace)
        selected = self.idata.isel(instance=indexer)
        if load:
            for group in selected.groups():
                selected[group].load()
        return Explanation(selected)

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
        return self._select(positions).with_attrs(**attrs)

    def with_instances(self, labels) -> Explanation:
        """This batch with its instances labelled ``labels`` (n,) integers, e.g. the rows
        of a data set; the numbers are unchanged."""
        from probex.explanation import Explanation

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
        from probex.explanation import Explanation

        attrs = {**self._attrs, "compact": 1}
        cf = self._closed
        if cf is not None and ("df" in cf or cf.attrs.get("distribution") == "normal"):
            return Explanation.deferred(cf, attrs, None, self._trace)
        dropped = ("constant_data", "observed_data", "log_likelihood", "posterior_predictive",
                   "prior", "prior_predictive")
        keep = [g for g in self.idata.groups() if g not in dropped]
        idata = az.InferenceData(**{g: self.idata[g] for g in keep})
        return Explanation(idata).with_attrs(compact=1)


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
