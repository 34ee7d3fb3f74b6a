"""The manifest of a data-set run: ``OUT/manifest.json``, rewritten atomically after every
chunk.

It records what the run is (method, seed, probex version, the explainer's configuration
and its hash, the call's options, the row range and chunk size) and, per finished chunk,
its rows, a digest of its input rows, its file and that file's SHA-256, the queries spent
and the rows that could not be explained (the errors table). A chunk counts as done only
when its file exists with the recorded SHA-256, so a run killed at any point resumes
from what is verifiably on disk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from probex._io import write_atomically
from probex.engine.fingerprint import differences

__all__ = ["FORMAT", "MANIFEST_NAME", "ChunkRecord", "Manifest", "file_sha256"]

FORMAT = "probex-dataset/1"
MANIFEST_NAME = "manifest.json"
#: header entries compared on resume besides the configuration itself
_COMPARED = ("format", "n_rows", "rows", "chunk_size", "store")


def file_sha256(path) -> str:
    """Full SHA-256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ChunkRecord:
    """One finished chunk: data-set rows ``start:stop`` (positions in ``X``).

    ``file`` is None when no row of the chunk could be explained; ``errors`` lists
    ``[row, message]`` for each row that could not.
    """

    index: int
    start: int
    stop: int
    data: str
    file: str | None
    sha256: str | None
    n_explained: int
    n_queries: int
    seconds: float
    errors: list = field(default_factory=list)


class Manifest:
    """The manifest of the run stored in ``folder`` (see the module docstring).

    Args:
        folder: the run's output directory.
        header: what the run is (``method``, ``seed``, ``probex_version``,
            ``configuration`` (flat dict), ``configuration_hash``, ``n_rows``, ``rows``,
            ``chunk_size``, ``store``, ``call``).
        chunks: finished chunks by index.
    """

    def __init__(self, folder, header: dict, chunks: dict[int, ChunkRecord] | None = None):
        self.folder = Path(folder)
        self.header = dict(header)
        self.chunks: dict[int, ChunkRecord] = dict(chunks or {})
        self.complete = False

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST_NAME

    @classmethod
    def load(cls, folder) -> Manifest | None:
        """The manifest in ``folder``, or None when there is none.

        Raises:
            ValueError: if the file is not a probex data-set manifest.
        """
        path = Path(folder) / MANIFEST_NAME
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            chunks = {int(c["index"]): ChunkRecord(**c) for c in data.pop("chunks")}
            data.pop("errors", None)
            complete = bool(data.pop("complete", False))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{str(path)!r} is not a probex data-set manifest ({err}); "
                             "choose another out directory") from None
        if data.get("format") != FORMAT:
            raise ValueError(f"{str(path)!r} has format {data.get('format')!r}, expected "
                             f"{FORMAT!r}")
        manifest = cls(folder, data, chunks)
        manifest.complete = complete
        return manifest

    def check_same_run(self, header: dict) -> None:
        """Refuse to resume a different run.

        Raises:
            ValueError: naming every difference between this manifest and ``header``
                (configuration entries, call options, row range, chunk size, version).
        """
        old = {**{k: self.header.get(k) for k in _COMPARED},
               "probex_version": self.header.get("probex_version"),
               **{f"call.{k}": v for k, v in self.header.get("call", {}).items()},
               **self.header.get("configuration", {})}
        new = {**{k: header.get(k) for k in _COMPARED},
               "probex_version": header.get("probex_version"),
               **{f"call.{k}": v for k, v in header.get("call", {}).items()},
               **header.get("configuration", {})}
        changed = differences(old, new)
        if changed:
            raise ValueError(
                f"{str(self.path)!r} records a different run, so it cannot be resumed: "
                + "; ".join(changed) + ". Use another out directory, or resume=False "
                "(--restart) to start over there")

    def check_same_data(self, digests: dict[int, str]) -> None:
        """Refuse to resume over rows whose values changed (``digests`` by chunk)."""
        changed = [f"{c.start}:{c.stop}" for i, c in sorted(self.chunks.items())
                   if i in digests and digests[i] != c.data]
        if changed:
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more"
                                              if len(changed) > 5 else "")
            raise ValueError(f"the data differ from the run recorded in {str(self.path)!r}: "
                             f"rows {shown} changed. Use another out directory, or "
                             "resume=False (--restart) to start over there")

    def is_done(self, index: int, data_digest: str) -> bool:
        """Whether chunk ``index`` was finished on the same rows and its file is intact."""
        record = self.chunks.get(index)
        if record is None or record.data != data_digest:
            return False
        if record.file is None:
            return True
        path = self.folder / record.file
        return path.is_file() and file_sha256(path) == record.sha256

    def record(self, chunk: ChunkRecord) -> None:
        self.chunks[chunk.index] = chunk

    def forget(self, index: int) -> None:
        self.chunks.pop(index, None)

    @property
    def errors(self) -> pd.DataFrame:
        """The rows that could not be explained: ``row``, ``chunk``, ``message``."""
        rows = [(int(row), c.index, str(message)) for c in self.chunks.values()
                for row, message in c.errors]
        return pd.DataFrame(sorted(rows), columns=["row", "chunk", "message"])

    @property
    def n_queries(self) -> int:
        return int(sum(c.n_queries for c in self.chunks.values()))

    def files(self) -> list[Path]:
        """The chunk files, in row order."""
        return [self.folder / c.file for _, c in sorted(self.chunks.items()) if c.file]

    def to_dict(self) -> dict:
        errors = self.errors
        return {**self.header, "complete": self.complete,
                "chunks": [asdict(c) for _, c in sorted(self.chunks.items())],
                "errors": errors.to_dict(orient="records")}

    def save(self) -> Path:
        """Write the manifest (atomically)."""
        text = json.dumps(self.to_dict(), indent=1, default=str)
        return write_atomically(self.path, lambda tmp: Path(tmp).write_text(text))
