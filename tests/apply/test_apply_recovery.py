"""Crash recovery of unfinished journal intents.

Covers: a real SIGKILL of an applying subprocess between the remote create and the state record
(the local backend on disk and the PostgreSQL backend, MemoryProvider blocking on a signal file), then recover_unfinished adopts
the orphan by natural key and the next apply finishes without a duplicate and the plan after it is
empty; the same in-process with a simulated crash; a create that never reached the server (closed
as failed, recreated by the next run); interrupted updates and deletes (closed as failed); an
intent whose provider is not configured (left open); lookup failures (left open).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import ApplyOptions, Outcome, execute, recover_unfinished
from reconciler.errors import ServerError
from reconciler.plan.model import Action
from reconciler.state import open_backend
from reconciler.state.base import Intent
from reconciler.state.local import LocalBackend
from tests.support.memory_provider import MemoryProvider
from tests.support.memory_state import MemoryStateBackend
from tests.support.mini_plan import Desired, create, make_plan, plan_for, ref

ROOT = Path(__file__).resolve().parents[2]


def wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_sigkill_between_remote_create_and_state_record_is_recovered(tmp_path: Path, state_settings: dict[str, Any]):
    remote_file, signal_file = tmp_path / "remote.json", tmp_path / "go"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.apply_child", json.dumps(state_settings), str(remote_file), str(signal_file),
         "b", "a", "b", "c"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        wait_for(Path(f"{signal_file}.reached"))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, err.decode()

    remote = MemoryProvider.at(remote_file)
    assert [f.fields["name"] for f in remote.objects("Folder")] == ["a", "b"]  # b exists remotely...
    state = open_backend(state_settings, tmp_path)
    assert sorted(state.read().resources) == ["memory.Folder/a"]  # ...but was never recorded
    [orphan] = state.unfinished_intents()
    assert (orphan.address, orphan.action) == ("memory.Folder/b", "create")
    lock = state.current_lock()
    if state_settings["backend"] == "local":
        assert lock is not None and lock.operation == "apply"  # the killed process's lock file stays
        state.force_unlock(lock.id)
    else:
        assert lock is None  # the advisory lock ended with the killed process's connection

    messages = recover_unfinished(state, {"memory": remote})
    b_id = remote.objects("Folder")[1].remote_id
    assert len(messages) == 1 and "memory.Folder/b" in messages[0] and f"adopted {b_id}" in messages[0]
    assert state.unfinished_intents() == []
    assert state.read().get("memory.Folder/b").remote_id == b_id

    desired = [Desired("memory.Folder/a", {"name": "a"}), Desired("memory.Folder/b", {"name": "b"}),
               Desired("memory.Folder/c", {"name": "c"})]
    plan = plan_for(desired, state, {"memory": remote})
    assert [c.action for c in plan.changes] == [Action.NOOP, Action.NOOP, Action.CREATE]
    with state.locked("apply"):
        result = execute(plan, {"memory": remote}, state, ApplyOptions())
    assert not result.has_failures
    assert [f.fields["name"] for f in remote.objects("Folder")] == ["a", "b", "c"]  # no duplicate
    assert not plan_for(desired, state, {"memory": remote}).has_changes


def test_orphaned_create_adopted_after_simulated_crash(tmp_path: Path):
    signal_file = tmp_path / "go"
    remote = MemoryProvider.at(tmp_path / "remote.json", block_after_create="pen", signal_file=str(signal_file))
    state = MemoryStateBackend()
    plan = make_plan(state, create("memory.Folder/f", {"name": "f"}),
                     create("memory.Item/pen", {"name": "pen", "folder_id": ref("memory.Folder/f"), "price": 1}))
    worker = threading.Thread(target=execute, args=(plan, {"memory": remote}, state, ApplyOptions()))
    worker.start()
    try:
        wait_for(Path(f"{signal_file}.reached"))
        crashed = state.simulate_crash()  # what the next process sees: the item's intent is open
    finally:
        signal_file.touch()
        worker.join()
    assert [i.address for i in crashed.unfinished_intents()] == ["memory.Item/pen"]
    assert crashed.read().get("memory.Item/pen") is None

    messages = recover_unfinished(crashed, {"memory": remote})
    [item] = remote.objects("Item")
    assert "adopted " + item.remote_id in messages[0]
    rs = crashed.read().get("memory.Item/pen")
    assert rs.remote_id == item.remote_id and rs.parent_ids == {"folder_id": item.fields["folder_id"]}
    assert rs.version == item.version and rs.fingerprint == item.fingerprint
    [pen_intent] = [i for i in crashed.intents.values() if i.address == "memory.Item/pen"]
    assert crashed.outcomes[pen_intent.id] == "recovered" and crashed.unfinished_intents() == []
    assert len(remote.objects("Item")) == 1  # the finished worker in the "dead" process made only one


def test_create_that_never_reached_the_server_is_closed_as_failed(tmp_path: Path):
    remote = MemoryProvider.at(tmp_path / "remote.json")
    state = MemoryStateBackend()
    state.begin_intent(Intent("i1", "memory.Folder/x", "create", "memory", "Folder", {"name": "x"}))
    messages = recover_unfinished(state, {"memory": remote})
    assert messages == ["memory.Folder/x: the interrupted create had not reached the server; the next plan creates it"]
    assert state.outcomes == {"i1": "failed"} and state.read().resources == {}


def test_interrupted_updates_and_deletes_are_left_to_the_next_plan(tmp_path: Path):
    remote = MemoryProvider.at(tmp_path / "remote.json")
    state = MemoryStateBackend()
    state.begin_intent(Intent("u", "memory.Folder/x", "update", "memory", "Folder", {"name": "x"}, "folder-7"))
    state.begin_intent(Intent("d", "memory.Folder/y", "delete", "memory", "Folder", {}, "folder-8"))
    messages = recover_unfinished(state, {"memory": remote})
    assert state.outcomes == {"u": "failed", "d": "failed"}
    assert any("update of folder-7 was interrupted" in m for m in messages)
    assert any("delete of folder-8 was interrupted" in m for m in messages)
    assert remote.calls["find"] == 0


def test_intent_of_an_unconfigured_provider_or_failed_lookup_stays_open(tmp_path: Path):
    remote = MemoryProvider.at(tmp_path / "remote.json")
    state = MemoryStateBackend()
    state.begin_intent(Intent("o", "other.Thing/x", "create", "other", "Thing", {"name": "x"}))
    messages = recover_unfinished(state, {"memory": remote})
    assert "provider 'other' is not configured" in messages[0]
    assert [i.id for i in state.unfinished_intents()] == ["o"]

    state.begin_intent(Intent("m", "memory.Folder/m", "create", "memory", "Folder", {"name": "m"}))

    def broken_lookup(kind, spec):
        raise ServerError("unavailable", method="GET", url="memory://local/Folder", status=503)

    remote.find_by_natural_key = broken_lookup  # type: ignore[method-assign]
    messages = recover_unfinished(state, {"memory": remote})
    assert any("could not be looked up" in m and "HTTP 503" in m for m in messages)
    assert sorted(i.id for i in state.unfinished_intents()) == ["m", "o"]


@pytest.mark.parametrize("landed", [True, False])
def test_recovery_then_apply_converges(tmp_path: Path, landed: bool):
    remote = MemoryProvider.at(tmp_path / "remote.json")
    state = LocalBackend(tmp_path / "state.json")
    spec = {"name": "x", "color": "red"}
    if landed:
        remote.create("Folder", spec)
    state.begin_intent(Intent("i1", "memory.Folder/x", "create", "memory", "Folder", spec))
    recover_unfinished(state, {"memory": remote})
    desired = [Desired("memory.Folder/x", spec)]
    result = execute(plan_for(desired, state, {"memory": remote}), {"memory": remote}, state, ApplyOptions())
    assert [r.outcome for r in result.results] == [Outcome.DONE]
    assert len(remote.objects("Folder")) == 1
    assert not plan_for(desired, state, {"memory": remote}).has_changes
