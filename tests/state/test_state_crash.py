"""LocalBackend survives SIGKILL: a real child process is killed while it writes.

Covers: a child that takes the lock and loops begin_intent / record / end_intent (compacting
every 16 entries, so kills also land in compactions) is SIGKILLed at several moments; the
parent re-opens the files and finds a consistent state: every change the child acknowledged is
there, serial equals the number of resources, contents intact, at most one unfinished intent and
it is the one in flight; the dead child's lock is reported as stale and can be cleared; the next
writer continues the same lineage with the next serial and leaves no temp files behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.errors import LockError
from reconciler.state import LocalBackend

CHILD = r"""
import sys
from pathlib import Path
from reconciler.state.base import Intent, ResourceState
from reconciler.state.local import LocalBackend

backend = LocalBackend(Path(sys.argv[1]), compact_every=16)
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
def test_sigkill_mid_write_leaves_a_consistent_state(tmp_path: Path, kill_after: int) -> None:
    path = tmp_path / ".reconciler" / "state.json"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
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

    after = LocalBackend(path)
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

    stale = after.current_lock()
    assert stale is not None and stale.pid == child.pid
    with pytest.raises(LockError, match="refusing to write"):
        after.record(snap.resources[f"test.Thing/t{0:05d}"])

    with after.locked("apply"):  # the dead child's lock is cleared and reported
        assert after.broken_locks == [stale]
        for intent in after.unfinished_intents():
            after.end_intent(intent.id, "recovered")
        assert after.forget("test.Thing/t00000") == serial + 1
    final = LocalBackend(path).read()
    assert final.lineage == snap.lineage
    assert final.serial == serial + 1
    assert len(final.resources) == serial - 1
    assert LocalBackend(path).unfinished_intents() == []
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
