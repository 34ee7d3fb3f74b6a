"""Files written whole: a temporary sibling, fsync, then an atomic rename.

Readers never see half a file, a crash leaves the previous version in place, and the
next write of the same target removes the temporary files that killed writers left
behind. A rewrite keeps the existing file's permission bits (a 0600 explanation stays
0600); a new file gets the default mode less the process umask, as ``open`` would give.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

__all__ = ["write_atomically", "stale_temporaries"]

_SUFFIX = ".tmp"


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{_SUFFIX}")


def stale_temporaries(path) -> list[Path]:
    """Temporary files of earlier writes of ``path`` whose writer process is gone."""
    path = Path(path)
    stale = []
    for candidate in path.parent.glob(f".{path.name}.*{_SUFFIX}"):
        parts = candidate.name[len(path.name) + 2 : -len(_SUFFIX)].split(".")
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        if not _process_alive(int(parts[0])):
            stale.append(candidate)
    return stale


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path, write) -> Path:
    """Call ``write(tmp_path)``, fsync it, then rename it onto ``path``.

    Raises:
        FileNotFoundError: if the folder of ``path`` does not exist.
        PermissionError: if it cannot be written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"directory {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"directory {str(folder)!r} is not writable")
    for stale in stale_temporaries(path):
        with contextlib.suppress(OSError):
            stale.unlink()
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    tmp = _temporary_name(path)
    try:
        write(str(tmp))
        if mode is not None:
            os.chmod(tmp, mode)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(folder)
    return path
