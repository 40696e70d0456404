"""The local backend's lock file: one JSON :class:`~reconciler.state.base.LockInfo` in
``<stem>.lock`` beside the state file, created with ``O_CREAT|O_EXCL`` (whoever creates it holds
the lock), written and fsynced before it counts, removed on release.

A dead holder's file (its pid scope is this process's and its pid no longer runs, see
:mod:`reconciler.state.holders`) may be removed by the next locker: :meth:`LockFile.remove_if_dead`
does the check-and-remove under an OS file lock (``<stem>.lock.guard``) so that two runs cannot
both remove it and one of them remove a fresh lock taken in between. File-system failures are
StateErrors naming the file; a file that is not a lock is :class:`UnreadableLock`.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from filelock import FileLock

from reconciler.errors import LockError, StateError
from reconciler.fsutil import fsync_dir
from reconciler.state import codec, holders
from reconciler.state.base import LockInfo
from reconciler.state.holders import Liveness


class UnreadableLock(Exception):
    pass


def write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class LockFile:
    """``path``: the lock file; ``state``: the state file it guards (for messages)."""

    def __init__(self, path: Path, state: Path) -> None:
        self.path = path
        self.state = state

    def read(self) -> LockInfo | None:
        """The holder, or None. Retries briefly: a new lock may be mid-write."""
        detail = ""
        for attempt in range(5):
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise UnreadableLock(exc.strerror or str(exc)) from exc
            try:
                return codec.parse_lock(raw)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
                detail = "empty" if not raw.strip() else str(exc)
            time.sleep(0.01 * (attempt + 1))
        raise UnreadableLock(detail)

    def holder(self) -> LockInfo | None:
        """:meth:`read`, an unreadable file being a LockError that says what to do."""
        try:
            return self.read()
        except UnreadableLock as exc:
            raise LockError(self.unreadable_message(str(exc))) from None

    def unreadable_message(self, detail: str) -> str:
        return (
            f"state {self.state} is locked by {self.path}, which cannot be read ({detail}); "
            "if no other run is active, delete that file"
        )

    def create(self, info: LockInfo) -> bool:
        """Write ``info`` as a new lock file; False if one exists already."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise StateError(f"{self.path}: cannot create the lock: {exc.strerror or exc}") from exc
        try:
            write_all(fd, (codec.dumps(codec.lock_to_json(info)) + "\n").encode())
            os.fsync(fd)
        except BaseException as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            if isinstance(exc, OSError):
                raise StateError(f"{self.path}: cannot write the lock: {exc.strerror or exc}") from exc
            raise
        os.close(fd)
        fsync_dir(self.path.parent)
        return True

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        fsync_dir(self.path.parent)

    def remove_if_dead(self) -> LockInfo | None:
        """Remove the lock if its holder is known to be dead; the removed holder, or None."""
        with FileLock(str(self.path) + ".guard"):
            try:
                holder = self.read()
            except UnreadableLock:
                return None
            if holder is None or holders.liveness(holder) is not Liveness.DEAD:
                return None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        return holder
