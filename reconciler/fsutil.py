"""Durable file writes shared by the state backend and plan files.

``atomic_write`` replaces a file so that a reader (or a crash) sees either the old content or
the whole new one: temp file in the same directory, flush, fsync, ``os.replace``, fsync the
directory. New files get mode 0600 (state and plans may name live objects); an existing file
keeps its mode.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (best effort where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, payload: bytes, default_mode: int = 0o600) -> os.stat_result:
    """Replace ``path`` by ``payload`` atomically and durably; returns the new file's stat."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = default_mode
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
    return os.stat(path)
