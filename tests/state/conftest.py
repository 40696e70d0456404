"""The state tests' backends: every contract test runs once per backend (``kind``: local files in
tmp_path, and PostgreSQL in a fresh schema of the session's throwaway cluster).

:class:`Kind` opens more instances on the same state (another process's view), takes the lock
from elsewhere (another process for the local backend: a lock file naming another pid; another
database session for PostgreSQL), and leaves the lock of a holder that died (a real child process
SIGKILLed while holding it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.state import LocalBackend, LockInfo, StateBackend, holders, open_backend
from tests.support.postgres import released

REPO = Path(__file__).resolve().parents[2]
NO_COMPACT = 10**9

HOLD_AND_DIE = r"""
import json, sys, time
from pathlib import Path
from reconciler.state import open_backend
backend = open_backend(json.loads(sys.argv[1]), Path(sys.argv[2]))
info = backend.acquire_lock("apply")
print(info.id, flush=True)
time.sleep(120)
"""


@dataclass
class Kind:
    name: str
    settings: dict[str, Any]
    root: Path
    opened: list[StateBackend] = field(default_factory=list)

    @property
    def locks_die_with_holder(self) -> bool:
        """PostgreSQL's advisory lock ends with the holder's session; a lock file stays."""
        return self.name == "postgres"

    def open(self, *, compact_every: int | None = None, poll_interval: float | None = None) -> StateBackend:
        if self.name == "local":
            path = self.root / ".reconciler" / "state.json"
            backend: StateBackend = LocalBackend(
                path,
                compact_every=compact_every if compact_every is not None else 256,
                poll_interval=0.1 if poll_interval is None else poll_interval,
            )
        else:
            backend = open_backend(self.settings, self.root)
        self.opened.append(backend)
        return backend

    def hold_elsewhere(self) -> tuple[LockInfo, StateBackend | None]:
        """The lock taken by someone else: (its LockInfo, the instance holding it, if any)."""
        if self.name == "local":
            info = LockInfo(str(uuid.uuid4()), "ci@runner-7", os.getppid(), "apply", "2025-01-01T00:00:00Z")
            lock_path = self.root / ".reconciler" / "state.lock"
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            lock_path.write_text(json.dumps(vars(info)))
            return info, None
        other = self.open()
        return other.acquire_lock("apply"), other

    def dead_holder(self) -> LockInfo:
        """A child process takes the lock and is SIGKILLed holding it; returns its lock."""
        child = subprocess.Popen(
            [sys.executable, "-c", HOLD_AND_DIE, json.dumps(self.settings), str(self.root)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert child.stdout is not None
        lock_id = child.stdout.readline().strip()
        assert lock_id, "the child did not take the lock"
        holder = self.open().current_lock()
        assert holder is not None and holder.id == lock_id
        child.send_signal(signal.SIGKILL)
        child.wait()
        if self.locks_die_with_holder:
            assert released(self.open())  # the session ended with the process
        return holder


@pytest.fixture(params=["local", "postgres"])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kind]:
    if request.param == "local":
        settings: dict[str, Any] = {"backend": "local", "path": str(tmp_path / ".reconciler" / "state.json")}
    else:
        settings = request.getfixturevalue("pg_settings")
    made = Kind(request.param, settings, tmp_path)
    yield made
    for backend in made.opened:
        backend.close()


def scope_of_this_process() -> str:
    return holders.pid_scope()
