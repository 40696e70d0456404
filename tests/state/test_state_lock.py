"""State locks, on every backend (``kind``), and the local backend's lock file.

Every backend: a second acquirer failing at once with a message naming the holder; release
removing only our own lock; ``locked()`` releasing on error; the lock of a holder that died (a
real child process SIGKILLed while holding it: the local lock file stays until the next run
clears it, PostgreSQL's ends with the session) cleared by the next acquirer and said through the
reporter; ``force_unlock`` of a dead holder's lock, refusing a wrong id or an unlocked state;
waiting with a timeout that succeeds when another instance releases, and one that expires.

Local lock file: its content (id, user@host, pid, operation, ISO-8601 UTC time, pid scope) and
``current_lock``; a dead holder's lock reported with the ``reconciler state unlock <id>`` hint; a
lock from another host, another PID namespace or without a pid scope never called stale; unlock
refusing a holder still running here unless forced; an unreadable lock file.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from reconciler.errors import LockError
from reconciler.state import LocalBackend, LockInfo, ResourceState, holders

from .conftest import Kind

STALE_HINT = "the holder process is no longer running; if no other run is active, clear it with"


def backend_in(tmp_path: Path, poll_interval: float = 0.1) -> LocalBackend:
    return LocalBackend(tmp_path / ".reconciler" / "state.json", poll_interval=poll_interval)


def plant_lock(
    backend: LocalBackend, *, pid: int, who: str | None = None, scope: str | None = None
) -> LockInfo:
    """A lock file as another process would have left it (of this pid scope unless ``scope``)."""
    info = LockInfo(
        id=str(uuid.uuid4()),
        who=who or f"{os.environ.get('USER', 'someone')}@{socket.gethostname()}",
        pid=pid,
        operation="apply",
        created="2025-03-01T10:00:00Z",
        pid_scope=holders.pid_scope() if scope is None else scope,
    )
    backend.lock_path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in vars(info).items() if k != "pid_scope" or v}
    backend.lock_path.write_text(json.dumps(data))
    return info


def dead_pid() -> int:
    """The pid of a real process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    assert proc.wait() == 0
    return proc.pid


def test_lock_file_names_its_holder(tmp_path: Path) -> None:
    backend = backend_in(tmp_path)
    info = backend.acquire_lock("apply")
    assert backend.lock_path == tmp_path / ".reconciler" / "state.lock"
    stored = json.loads(backend.lock_path.read_text())
    assert stored == {
        "id": info.id,
        "who": info.who,
        "pid": os.getpid(),
        "operation": "apply",
        "created": info.created,
        "pid_scope": holders.pid_scope(),
    }
    assert uuid.UUID(info.id)
    assert info.who.endswith(f"@{socket.gethostname()}")
    assert datetime.fromisoformat(info.created.replace("Z", "+00:00")).utcoffset() is not None
    assert backend.current_lock() == info
    backend.release_lock(info)
    assert backend.current_lock() is None
    assert not backend.lock_path.exists()


def test_a_second_writer_fails_at_once_naming_the_holder(kind: Kind) -> None:
    first = kind.open()
    second = kind.open()
    held = first.acquire_lock("apply")
    started = time.monotonic()
    with pytest.raises(LockError) as caught:
        second.acquire_lock("destroy")
    assert time.monotonic() - started < 1.0
    message = str(caught.value)
    assert message.startswith(f"state {second.where} is locked: ")
    assert held.describe() in message
    assert f"lock {held.id} held by {held.who} (pid {os.getpid()}) for 'apply'" in message
    assert STALE_HINT not in message  # we are alive
    assert message.endswith("wait for it to finish, or use --lock-timeout SECONDS to wait for it")
    first.release_lock(held)
    again = second.acquire_lock("destroy")
    assert second.current_lock() == again
    assert first.current_lock() == again


def test_release_removes_only_our_own_lock(kind: Kind) -> None:
    backend = kind.open()
    ours = backend.acquire_lock("apply")
    backend.force_unlock(ours.id)
    assert backend.current_lock() is None
    theirs, _holder = kind.hold_elsewhere()
    backend.release_lock(ours)  # ours was cleared and someone else locked since: leave theirs alone
    assert backend.current_lock() == theirs


def test_locked_releases_on_error(kind: Kind) -> None:
    backend = kind.open()
    with pytest.raises(RuntimeError, match="boom"), backend.locked("state rm") as info:
        assert backend.current_lock() == info
        raise RuntimeError("boom")
    assert backend.current_lock() is None
    assert kind.open().current_lock() is None


def test_the_lock_of_a_holder_that_died_is_cleared_and_reported(kind: Kind) -> None:
    backend = kind.open()
    said: list[str] = []
    backend.set_reporter(said.append)
    stale = kind.dead_holder()
    if kind.locks_die_with_holder:
        assert backend.current_lock() is None  # PostgreSQL: free the moment the session ended
    else:
        assert backend.current_lock() == stale
    info = backend.acquire_lock("apply")  # the holder is provably gone: its lock is broken
    assert backend.broken_locks == [stale]
    assert len(said) == 1 and said[0].startswith("cleared a stale lock left by a run that is no longer running")
    assert stale.describe() in said[0]
    assert backend.current_lock() == info
    backend.release_lock(info)


def test_a_stale_lock_can_be_cleared_by_hand(kind: Kind) -> None:
    backend = kind.open()
    stale = kind.dead_holder()
    with pytest.raises(LockError, match=f"lock id wrong-id does not match .*{stale.id}"):
        backend.force_unlock("wrong-id")
    backend.force_unlock(stale.id)  # its holder is dead: no --force needed
    assert backend.current_lock() is None
    with pytest.raises(LockError, match="is not locked"):
        backend.force_unlock(stale.id)
    info = backend.acquire_lock("apply")
    assert backend.broken_locks == []
    backend.release_lock(info)


def test_waiting_for_a_lock_succeeds_when_the_holder_releases(kind: Kind) -> None:
    holder = kind.open()
    waiter = kind.open(poll_interval=0.02)
    held = holder.acquire_lock("apply")
    releaser = threading.Timer(0.3, holder.release_lock, args=(held,))
    started = time.monotonic()
    releaser.start()
    try:
        got = waiter.acquire_lock("plan", timeout=10)
    finally:
        releaser.join()
    waited = time.monotonic() - started
    assert 0.25 <= waited < 5
    assert got.id != held.id
    assert waiter.current_lock() == got
    waiter.release_lock(got)


def test_waiting_for_a_lock_gives_up_after_the_timeout(kind: Kind) -> None:
    holder = kind.open()
    held = holder.acquire_lock("apply")
    started = time.monotonic()
    with pytest.raises(LockError) as caught:
        kind.open(poll_interval=0.05).acquire_lock("apply", timeout=0.4)
    assert time.monotonic() - started >= 0.4
    assert held.describe() in str(caught.value)
    assert "(still held after waiting 0.4s)" in str(caught.value)
    holder.release_lock(held)


def test_a_lock_from_another_host_is_never_called_stale(tmp_path: Path) -> None:
    backend = backend_in(tmp_path)
    other = plant_lock(backend, pid=dead_pid(), who="ci@some-other-runner", scope="host:some-other-runner")
    with pytest.raises(LockError) as caught:
        backend.acquire_lock("apply")
    assert other.describe() in str(caught.value)
    assert STALE_HINT not in str(caught.value)


def test_a_pid_from_another_pid_namespace_or_an_older_lock_is_never_called_stale(tmp_path: Path) -> None:
    """Containers sharing a workspace (and perhaps a host name) cannot judge each other's pids."""
    backend = backend_in(tmp_path)
    for scope in ("another-boot/pid:[4026530000]", ""):  # another container; a lock without a scope
        other = plant_lock(backend, pid=dead_pid(), scope=scope)
        with pytest.raises(LockError) as caught:
            backend.acquire_lock("apply")
        assert other.describe() in str(caught.value)
        assert STALE_HINT not in str(caught.value)
        assert backend.broken_locks == []
        backend.force_unlock(other.id)  # cannot be judged alive here: removed on request


def test_unlock_refuses_a_holder_still_running_here_unless_forced(tmp_path: Path) -> None:
    backend = backend_in(tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = plant_lock(backend, pid=sleeper.pid)
        with pytest.raises(LockError) as caught:
            backend.force_unlock(live.id)
        assert f"process {sleeper.pid} is still running on this host" in str(caught.value)
        assert "--force" in str(caught.value)
        assert backend.current_lock() == live
        backend.force_unlock(live.id, force=True)
        assert backend.current_lock() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_dead_holders_lock_file_names_the_unlock_command(tmp_path: Path) -> None:
    backend = backend_in(tmp_path)
    stale = plant_lock(backend, pid=dead_pid())
    with pytest.raises(LockError, match="refusing to write") as caught:
        backend.record(ResourceState("test.Thing/a", "test", "Thing", "1", {}, ""))
    assert f"{STALE_HINT} `reconciler state unlock {stale.id}`" in str(caught.value)


def test_an_unreadable_lock_file_is_a_clear_error(tmp_path: Path) -> None:
    backend = backend_in(tmp_path)
    backend.lock_path.parent.mkdir(parents=True)
    backend.lock_path.write_text("")
    with pytest.raises(
        LockError, match=r"state.lock, which cannot be read \(empty\); if no other run is active, delete"
    ):
        backend.acquire_lock("apply")
    with pytest.raises(LockError, match="cannot be read"):
        backend.current_lock()
    backend.lock_path.write_text('{"id": 3}')
    with pytest.raises(LockError, match="field 'id' is missing or not a string"):
        backend.acquire_lock("apply")


def test_every_command_that_locks_says_it_cleared_a_dead_holders_lock(tmp_path: Path) -> None:
    from tests.support.cli import invoke

    (tmp_path / "reconciler.yaml").write_text("apiVersion: reconciler/v1\nkind: Workspace\n")
    backend = backend_in(tmp_path)
    backend.record(ResourceState("test.Thing/a", "test", "Thing", "1", {}, ""))
    backend.record(ResourceState("test.Thing/b", "test", "Thing", "2", {}, ""))
    for args in (("state", "rm", "test.Thing/a"), ("state", "mv", "--force", "test.Thing/b", "test.Thing/c")):
        stale = plant_lock(backend, pid=dead_pid())
        done = invoke(tmp_path, *args)
        assert done.code == 0, done
        assert "Warning: cleared a stale lock left by a run that is no longer running" in done.err
        assert stale.id in done.err and f"pid {stale.pid}" in done.err
    assert sorted(backend.read().resources) == ["test.Thing/c"]


def test_state_unlock_refuses_a_running_holder_unless_forced(tmp_path: Path) -> None:
    from tests.support.cli import invoke

    (tmp_path / "reconciler.yaml").write_text("apiVersion: reconciler/v1\nkind: Workspace\n")
    backend = backend_in(tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = plant_lock(backend, pid=sleeper.pid)
        refused = invoke(tmp_path, "state", "unlock", live.id)
        assert refused.code == 1 and "is still running on this host" in refused.err and "--force" in refused.err
        assert backend.current_lock() == live
        forced = invoke(tmp_path, "state", "unlock", "--force", live.id)
        assert forced.code == 0 and f"Lock {live.id} removed." in forced.out
        assert backend.current_lock() is None
    finally:
        sleeper.kill()
        sleeper.wait()
