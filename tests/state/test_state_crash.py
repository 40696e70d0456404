"""Every backend survives SIGKILL: a real child process is killed while it writes.

Covers (``kind``: local files, PostgreSQL): a child that takes the lock and loops begin_intent /
record / end_intent (the local backend compacting every 16 entries, so kills also land in
compactions) is SIGKILLed at several moments; the parent opens the state afresh and finds it
consistent: every change the child acknowledged is there, serial equals the number of resources,
contents intact, at most one unfinished intent and it is the one in flight. The dead child's lock:
a lock file that refuses writes until the next locker clears it (local), or free at once because
it ended with the child's session (PostgreSQL); either way the next locker reports the dead holder
it replaced. The next writer continues the same lineage with the next serial and the local backend
leaves no temp files behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from reconciler.errors import LockError
from tests.support.postgres import released

from .conftest import REPO, Kind

CHILD = r"""
import json, sys
from pathlib import Path
from reconciler.state import open_backend
from reconciler.state.base import Intent, ResourceState
from reconciler.state.local import LocalBackend

settings = json.loads(sys.argv[1])
if settings["backend"] == "local":
    backend = LocalBackend(Path(settings["path"]), compact_every=16)
else:
    backend = open_backend(settings, Path(sys.argv[2]))
backend.acquire_lock("apply")
print("locked", flush=True)
i = 0
while True:
    address = f"test.Thing/t{i:05d}"
    backend.begin_intent(Intent(f"i{i}", address, "create", "test", "Thing", {"name": address}))
    serial = backend.record(
        ResourceState(address, "test", "Thing", str(1000 + i), {"name": address, "n": i, "pad": "x" * 200}, f"fp{i}")
    )
    backend.end_intent(f"i{i}", "done")
    print(serial, flush=True)
    i += 1
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
@pytest.mark.parametrize("kill_after", [1, 37, 150])
def test_sigkill_mid_write_leaves_a_consistent_state(kind: Kind, kill_after: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(kind.settings), str(kind.root)],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "locked"
    acknowledged = 0
    deadline = time.monotonic() + 60
    while acknowledged < kill_after and time.monotonic() < deadline:
        acknowledged = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    rest = child.stdout.read()
    child.wait()
    assert child.returncode == -signal.SIGKILL
    acknowledged = max([acknowledged, *(int(line) for line in rest.split())])
    assert acknowledged >= kill_after

    after = kind.open()
    snap = after.read()
    serial = snap.serial
    assert serial >= acknowledged  # nothing acknowledged was lost
    assert sorted(snap.resources) == [f"test.Thing/t{i:05d}" for i in range(serial)]
    for i in range(serial):
        rs = snap.resources[f"test.Thing/t{i:05d}"]
        assert (rs.remote_id, rs.applied_spec["n"], rs.fingerprint) == (str(1000 + i), i, f"fp{i}")
    unfinished = [intent.id for intent in after.unfinished_intents()]
    assert len(unfinished) <= 1
    assert set(unfinished) <= {f"i{serial - 1}", f"i{serial}"}  # the write in flight, nothing else

    if kind.locks_die_with_holder:
        assert released(after)  # the lock ended with the child's connection
    else:
        stale = after.current_lock()
        assert stale is not None and stale.pid == child.pid
        with pytest.raises(LockError, match="refusing to write"):
            after.record(snap.resources[f"test.Thing/t{0:05d}"])

    with after.locked("apply"):  # the dead child's lock is replaced, and said
        [cleared] = after.broken_locks
        assert cleared.pid == child.pid and cleared.operation == "apply"
        for intent in after.unfinished_intents():
            after.end_intent(intent.id, "recovered")
        assert after.forget("test.Thing/t00000") == serial + 1
    final = kind.open().read()
    assert final.lineage == snap.lineage
    assert final.serial == serial + 1
    assert len(final.resources) == serial - 1
    assert kind.open().unfinished_intents() == []
    if kind.name == "local":
        state_dir = kind.root / ".reconciler"
        assert not [p.name for p in state_dir.iterdir() if p.name.endswith(".tmp")]
