"""Chunk files on disk and the data set's explanation opened lazily over them.

Layout of a run's output directory::

    OUT/manifest.json            what the run is, finished chunks, errors table
    OUT/chunks/chunk-000000.nc   one netCDF file per chunk (rows' explanations)

Files are written whole (temporary sibling, fsync, rename), so a final path never holds
a partial file. :class:`DatasetExplanation` opens every chunk file lazily (xarray over
dask arrays, one block per file) and concatenates them along ``instance``, labelled by
the data set's row numbers: means, sds and intervals are computed block by block, so a
million rows never have to be in memory at once.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from probex._io import stale_temporaries, write_atomically
from probex.engine.manifest import Manifest
from probex.explanation import Explanation

__all__ = ["CHUNK_FOLDER", "chunk_file", "write_chunk", "remove_stale_temporaries",
           "DatasetExplanation", "open_chunk_files"]

CHUNK_FOLDER = "chunks"


def chunk_file(index: int) -> str:
    """The file of chunk ``index``, relative to the output directory."""
    return f"{CHUNK_FOLDER}/chunk-{index:06d}.nc"


def write_chunk(folder: Path, index: int, payload: bytes) -> str:
    """Write a chunk's netCDF bytes to its final path atomically; returns the relative
    file name."""
    name = chunk_file(index)
    write_atomically(Path(folder) / name, lambda tmp: Path(tmp).write_bytes(payload))
    return name


def remove_stale_temporaries(folder: Path, n_chunks: int) -> int:
    """Delete temporary chunk files left by killed writers; returns how many."""
    removed = 0
    for index in range(n_chunks):
        for stale in stale_temporaries(Path(folder) / chunk_file(index)):
            stale.unlink(missing_ok=True)
            removed += 1
    return removed


def _groups(path: Path) -> list[str]:
    import h5netcdf

    with h5netcdf.File(path, "r") as handle:
        return list(handle.groups)


def open_chunk_files(files, cls=Explanation) -> Explanation:
    """One batched explanation over chunk files, opened lazily (dask, one block per file).

    Groups over ``instance`` are concatenated; the others are taken from the first file.
    Metadata: the first file's, with ``n_queries`` summed, ``n_instances`` the total and
    ``target`` joined per instance (kept as one number when every file has the same).
    """
    import arviz as az
    import xarray as xr

    files = [Path(f) for f in files]
    if not files:
        raise ValueError("no chunk files to open: no row was explained")
    opened, file_attrs = {}, {}
    for group in _groups(files[0]):
        parts = [xr.open_dataset(f, group=group, engine="h5netcdf", chunks={}) for f in files]
        file_attrs[group] = [dict(part.attrs) for part in parts]
        if "instance" in parts[0].dims:
            opened[group] = xr.concat(parts, dim="instance", data_vars="minimal",
                                      coords="minimal", compat="override", join="override",
                                      combine_attrs="override")
        else:
            opened[group] = parts[0]
    attrs = _joined_attrs(file_attrs["posterior" if "posterior" in opened else "closed_form"])
    if "posterior" in opened:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # custom groups (closed_form, design_trace)
            explanation = cls(az.InferenceData(**opened))
        return explanation.with_attrs(**attrs)
    closed = opened["closed_form"]
    closed.attrs.update(attrs)
    return cls.from_marginals(closed, opened.get("design_trace"))


def _joined_attrs(per_file: list[dict]) -> dict:
    attrs = {k: v for k, v in per_file[0].items() if k != "distribution"}
    sizes = [int(a.get("n_instances", 0)) for a in per_file]
    attrs["n_queries"] = int(sum(int(a.get("n_queries", 0)) for a in per_file))
    attrs["n_instances"] = int(sum(sizes))
    if "target" in attrs:
        targets = [np.broadcast_to(np.asarray(a.get("target", -1)), (n,))
                   for a, n in zip(per_file, sizes, strict=True)]
        joined = np.concatenate(targets) if targets else np.zeros(0, dtype=np.int64)
        attrs["target"] = (int(joined[0]) if joined.size and (joined == joined[0]).all()
                           else joined)
    return attrs


class DatasetExplanation(Explanation):
    """The explanation of a data set's rows, opened lazily over a run's chunk files.

    A batched :class:`~probex.Explanation` (``mean``, ``sd``, ``hdi``, ``summary``,
    ``to_dataframe``, ``e[i]``) whose instances are labelled by the data set's row
    numbers (:attr:`instances`); rows that could not be explained are absent and listed
    in :attr:`errors`.

    Attributes:
        folder: the run's output directory.
        errors: DataFrame ``row``, ``chunk``, ``message`` of the rows not explained.
        manifest: the run's manifest as a dict.
        files: the chunk files, in row order.
    """

    folder: Path
    errors: pd.DataFrame
    manifest: dict
    files: list

    @classmethod
    def open(cls, out) -> DatasetExplanation:
        """Open the explanation stored in a run's output directory ``out``."""
        manifest = Manifest.load(out)
        if manifest is None:
            raise FileNotFoundError(f"{str(out)!r} holds no probex data-set run "
                                    "(no manifest.json)")
        explanation = open_chunk_files(manifest.files(), cls)
        explanation.folder = Path(out)
        explanation.errors = manifest.errors
        explanation.manifest = manifest.to_dict()
        explanation.files = manifest.files()
        return explanation

    def to_csv(self, path, prob: float = 0.95) -> Path:
        """Write :meth:`to_dataframe` (one row per data-set row and feature: mean, sd,
        interval) as CSV, one chunk file at a time, atomically; returns the path."""

        def write(tmp):
            for i, file in enumerate(self.files):
                frame = Explanation.from_netcdf(file).to_dataframe(prob)
                frame.to_csv(tmp, mode="w" if i == 0 else "a", header=i == 0, index=False)

        return write_atomically(path, write)
