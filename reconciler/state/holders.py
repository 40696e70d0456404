"""Lock holders, for every backend: who takes a lock, whether a holder still runs, what to say.

A lock names its holder (:class:`~reconciler.state.base.LockInfo`): an id, ``user@host``, the
operation, the time, the process id and ``pid_scope``, the place where that pid means something:
on Linux the host's boot id and the PID namespace of the process (``/proc/self/ns/pid``), so two
containers that share a workspace directory (and perhaps a host name) never take each other's pids
for their own; elsewhere the host name. A holder's liveness (:func:`liveness`) is only judged from
the same ``pid_scope``: ``DEAD`` when its pid no longer runs, ``ALIVE`` when it does (or cannot be
signalled), ``UNKNOWN`` from another scope, another host, or a lock that has no scope (written
before it existed). Only a ``DEAD`` holder's lock may be cleared without asking; ``state unlock``
refuses an ``ALIVE`` one unless forced.

The PostgreSQL backend does not need pids to know: its lock is a session advisory lock, alive
exactly as long as the holder's connection, so it uses these records only to *name* the holder.
"""

from __future__ import annotations

import enum
import functools
import getpass
import os
import socket
import uuid
from datetime import UTC, datetime

from reconciler.state.base import LockInfo


class Liveness(enum.Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"


def who() -> str:
    """``user@host`` of this process (the uid when there is no passwd entry, as in containers)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


@functools.lru_cache(maxsize=1)
def pid_scope() -> str:
    """Where this process's pid means something: ``boot-id/pid:[inode]`` on Linux, else ``host:NAME``."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return f"host:{socket.gethostname()}"
    return f"{boot}/{namespace}"


def new_lock(operation: str) -> LockInfo:
    """A fresh lock record for this process."""
    return LockInfo(
        id=str(uuid.uuid4()),
        who=who(),
        pid=os.getpid(),
        operation=operation,
        created=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        pid_scope=pid_scope(),
    )


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process in this PID namespace (unknown counts as alive)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, owned by someone else
        return True
    return True


def liveness(holder: LockInfo) -> Liveness:
    """Whether ``holder`` still runs, as far as this process can tell (see the module docstring)."""
    if not holder.pid_scope or holder.pid_scope != pid_scope():
        return Liveness.UNKNOWN
    return Liveness.ALIVE if pid_alive(holder.pid) else Liveness.DEAD


def is_this_process(holder: LockInfo) -> bool:
    return holder.pid == os.getpid() and holder.pid_scope == pid_scope() and holder.who == who()


def held_message(where: str, holder: LockInfo, waited: float = 0.0, state: Liveness = Liveness.UNKNOWN) -> str:
    """``state WHERE is locked: lock ID held by ... for 'apply' since ...`` and what to do about it."""
    message = f"state {where} is locked: {holder.describe()}"
    if waited > 0:
        message += f" (still held after waiting {waited:g}s)"
    if state is Liveness.DEAD:
        return (
            f"{message}; the holder process is no longer running; if no other run is active, "
            f"clear it with `reconciler state unlock {holder.id}`"
        )
    if waited > 0:
        return message
    return f"{message}; wait for it to finish, or use --lock-timeout SECONDS to wait for it"


def refuse_live_unlock(where: str, holder: LockInfo, how: str) -> str:
    """The message of ``state unlock`` refusing a holder that is still running."""
    return (
        f"refusing to unlock state {where}: {holder.describe()} and {how}; it is released when that run "
        "ends. Use --force to remove it anyway (that run may then write beside another one)"
    )
