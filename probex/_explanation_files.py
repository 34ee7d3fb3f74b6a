"""Explanations on disk: netCDF files, whole or compact (closed-form marginals only).

:class:`FilesMixin` is one of the bases of :class:`probex.explanation.Explanation`. A
file holds the whole InferenceData, so reading it back loses nothing; a compact
explanation without draws is written as its ``closed_form`` group (and design trace)
with the metadata in that group's attributes, and read back as such.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import arviz as az

from probex._io import write_atomically

if TYPE_CHECKING:
    from probex.explanation import Explanation

__all__ = ["FilesMixin"]


class FilesMixin:
    """:meth:`to_netcdf`, :meth:`from_netcdf` and :meth:`from_marginals` of an
    :class:`~probex.explanation.Explanation`."""

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
