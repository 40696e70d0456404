"""Convergence under injected failures: 30% of writes fail (503 or 429 with Retry-After), half of
them *after* the write landed (the answer lost). Repeating recover -> plan -> apply must reach an
empty plan with exactly one remote object per desired resource (no duplicate creates, no lost
updates), then do the same for a second wave of updates and deletes.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.apply import ApplyOptions, execute, recover_unfinished
from reconciler.state.base import StateBackend
from tests.support.memory_provider import MemoryProvider
from tests.support.mini_plan import Desired, plan_for, ref

OPTIONS = ApplyOptions(parallelism=4, max_attempts=3, retry_base_delay=0.001, retry_max_delay=0.01)


def desired_world(wave: int) -> list[Desired]:
    out: list[Desired] = []
    for f in range(8):
        color = ["red", "green", "blue"][(f + wave) % 3]
        out.append(Desired(f"memory.Folder/f{f}", {"name": f"f{f}", "color": color, "size": f * wave}))
    for f in range(8):
        for i in range(4 if wave == 0 else 2):  # wave 1 deletes half the items
            out.append(Desired(f"memory.Item/f{f}-i{i}", {
                "name": f"i{i}", "folder_id": ref(f"memory.Folder/f{f}"),
                "price": 1.25 * (i + 1) + wave, "tags": [f"w{wave}"],
            }))
    return out


def converge(desired: list[Desired], remote: MemoryProvider, state: StateBackend, rounds: int = 12) -> dict[str, int]:
    budget = {"retries": 0, "rate_limited": 0, "server_errors": 0, "adopted": 0}
    providers = {"memory": remote}
    for _ in range(rounds):
        recover_unfinished(state, providers)
        plan = plan_for(desired, state, providers)
        if not plan.has_changes:
            return budget
        result = execute(plan, providers, state, OPTIONS)
        for key in ("retries", "rate_limited", "server_errors"):
            budget[key] += result.error_budget[key]
        budget["adopted"] += sum("found by natural key" in r.message for r in result.results)
    raise AssertionError(f"no convergence after {rounds} rounds")


def assert_world(desired: list[Desired], remote: MemoryProvider, state: StateBackend) -> None:
    folders = remote.objects("Folder")
    items = remote.objects("Item")
    want_items = [d for d in desired if d.address.startswith("memory.Item/")]
    assert len(folders) == len(desired) - len(want_items)
    assert len(items) == len(want_items)
    assert len({f.fields["name"] for f in folders}) == len(folders)  # no duplicate folder
    assert len({(i.fields["folder_id"], i.fields["name"]) for i in items}) == len(items)  # no duplicate item
    snap = state.read()
    assert sorted(snap.resources) == sorted(d.address for d in desired)
    live = {o.remote_id: o for o in [*folders, *items]}
    for d in desired:
        rs = snap.resources[d.address]
        obj = live[rs.remote_id]
        for key, value in d.spec.items():
            if key == "folder_id":
                assert obj.fields[key] == snap.resources[str(value.target)].remote_id
            else:
                assert obj.fields[key] == value, (d.address, key)
        assert rs.version == obj.version and rs.fingerprint == obj.fingerprint
    assert state.unfinished_intents() == []


def test_thirty_percent_failures_converge_without_duplicates(tmp_path: Path, state):
    remote = MemoryProvider.at(tmp_path / "remote.json", fail_rate=0.3, seed=7, retry_after=0.001)
    first = desired_world(0)
    budget = converge(first, remote, state)
    assert_world(first, remote, state)
    assert remote.errors["create_landed_server"] + remote.errors["create_landed_rate_limited"] > 0
    assert budget["adopted"] > 0  # lost answers were found by natural key, not created twice
    assert budget["retries"] > 0 and budget["server_errors"] + budget["rate_limited"] > 0

    second = desired_world(1)  # every folder and item changes; half the items go
    converge(second, remote, state)
    assert_world(second, remote, state)
    assert remote.errors["update_landed_server"] + remote.errors["update_landed_rate_limited"] > 0
