"""Durable file writes shared by the state backend, plan files, the token cache and export.

``atomic_write`` replaces a file so that a reader (or a crash) sees either the old content or
the whole new one: temp file in the same directory, flush, fsync, ``os.replace``, fsync the
directory. New files get mode 0600 (state and plans may name live objects); an existing file
keeps its mode unless the caller fixes one (plan files are always 0600). ``create_new``
creates a file that must not exist yet (export's manifests), through an exclusively created
temporary file, and never replaces or follows anything. Temporary names are always
unpredictable (``mkstemp``) and created exclusively.
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


def atomic_write(
    path: Path, payload: bytes, default_mode: int = 0o600, *, mode: int | None = None
) -> os.stat_result:
    """Replace ``path`` by ``payload`` atomically and durably; returns the new file's stat.
    The new file keeps the old one's mode (``default_mode`` when there was none), or gets
    ``mode`` whatever the old one had (plan files: always 0600)."""
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o777
        except OSError:
            mode = default_mode
    directory = path.parent if str(path.parent) else Path(".")
    tmp = _temporary_copy(path, payload, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
    return os.stat(path)


def _temporary_copy(path: Path, payload: bytes, mode: int) -> str:
    """``payload`` in a new, unpredictably named file beside ``path`` (created exclusively,
    flushed and fsynced, mode ``mode``); its name. Removed again if anything fails."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def create_new(path: Path, payload: bytes, mode: int = 0o644) -> None:
    """Create ``path`` holding ``payload``; never replace or write through anything already there.

    The bytes go to an unpredictable temporary file created exclusively in the same directory
    (``mkstemp``: ``O_CREAT | O_EXCL``, so a planted file or symbolic link under any name is never
    opened), are flushed and fsynced, then the file is hard-linked to ``path``, which fails with
    :class:`FileExistsError` if anything (a dangling symbolic link included) has that name. Where
    hard links are not supported, the temporary file is renamed instead, after checking that
    nothing has the name.
    """
    directory = path.parent if str(path.parent) else Path(".")
    tmp = _temporary_copy(path, payload, mode)
    try:
        try:
            os.link(tmp, path, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (some network or FAT file systems)
            if os.path.lexists(path):
                raise FileExistsError(path) from None
            os.rename(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    fsync_dir(directory)
