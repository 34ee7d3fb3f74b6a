"""Explaining whole data sets: chunked, resumable, in-process or on Dask.

:func:`explain_dataset` splits the rows into chunks, explains each with the explainer's
batched path (row i's random stream derived from (seed, i)), writes each chunk's result
to its own netCDF file with a manifest, and returns a :class:`DatasetExplanation` opened
lazily over the files.
"""

from probex.engine.dataset import explain_dataset
from probex.engine.engines import local_client
from probex.engine.manifest import Manifest
from probex.engine.storage import DatasetExplanation

__all__ = ["explain_dataset", "DatasetExplanation", "Manifest", "local_client"]
