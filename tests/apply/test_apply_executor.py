"""The apply executor against the MemoryProvider and real state backends.

Covers: dependency order and Ref resolution to a parent created in the same run (also inside a
nested map); deletes in reverse dependency order; the parallelism bound; a failure skipping its
transitive dependents while independent work finishes; creates never duplicated (fault after the
remote create -> adopted by natural key; fault before -> retried; retries exhausted -> failed and
journaled); version preconditions (disjoint out-of-band edit -> rebased and both edits survive;
overlapping -> conflict with both sides and no write, dependents skipped; already-live -> done;
--force-conflicts overwrites and says so); fingerprint preconditions (checked before writing);
an update whose answer was lost; deletes (already gone, conflicting, prevent_destroy); replace;
adopt / abandon / no-op state refresh / manual; the state written per resource and the journal
closed; the error budget; on_event.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reconciler.apply import ApplyOptions, Outcome, execute
from reconciler.plan.model import Action, Change, FieldChange, Plan
from reconciler.providers.base import Precondition, PreconditionKind
from reconciler.state.base import StateBackend
from tests.support.memory_provider import MemoryProvider
from tests.support.mini_plan import create, delete, make_plan, ref, update

FAST = ApplyOptions(retry_base_delay=0.001, retry_max_delay=0.05)


def run(plan: Plan, remote: MemoryProvider, state: StateBackend, **options: object):
    opts = ApplyOptions(**{**FAST.__dict__, **options})
    return execute(plan, {"memory": remote}, state, opts)


def seed(remote: MemoryProvider, state: StateBackend, *changes: Change) -> None:
    result = run(make_plan(state, *changes), remote, state)
    assert not result.has_failures, [r.describe() for r in result.results]


def live_of(remote: MemoryProvider, state: StateBackend, address: str):
    rs = state.read().get(address)
    assert rs is not None, address
    live = remote.read(rs.kind, [rs.remote_id]).get(rs.remote_id)
    assert live is not None
    return live


# -- order, references, parallelism --------------------------------------------------------------

def test_children_wait_for_parents_and_refs_resolve_to_ids_created_in_the_same_run(remote, state):
    # listed child-first: the walk must follow dependencies, not list order
    plan = make_plan(
        state,
        create("memory.Folder/tagged", {"name": "tagged", "labels": {"item": ref("memory.Item/pen")}}),
        create("memory.Item/pen", {"name": "pen", "folder_id": ref("memory.Folder/office"), "price": 2.5}),
        create("memory.Folder/office", {"name": "office", "color": "red"}),
    )
    result = run(plan, remote, state)
    assert [r.outcome for r in result.results] == [Outcome.DONE] * 3
    snap = state.read()
    office, pen, tagged = (snap.get(f"memory.{a}") for a in ("Folder/office", "Item/pen", "Folder/tagged"))
    assert office and pen and tagged
    assert pen.applied_spec["folder_id"] == office.remote_id
    assert pen.parent_ids == {"folder_id": office.remote_id}
    assert pen.dependencies == ("memory.Folder/office",)
    assert tagged.applied_spec["labels"] == {"item": pen.remote_id}
    live_pen = remote.read("Item", [pen.remote_id])[pen.remote_id]
    assert live_pen.fields["folder_id"] == office.remote_id
    assert pen.version == live_pen.version == 1 and pen.fingerprint == live_pen.fingerprint
    assert [r.address for r in result.results] == sorted(r.address for r in result.results)
    assert state.unfinished_intents() == []


def test_deletes_run_in_reverse_dependency_order(remote, state):
    seed(remote, state,
         create("memory.Folder/f", {"name": "f"}),
         create("memory.Item/a", {"name": "a", "folder_id": ref("memory.Folder/f")}),
         create("memory.Item/b", {"name": "b", "folder_id": ref("memory.Folder/f")}))
    lives = {a: live_of(remote, state, a) for a in ("memory.Folder/f", "memory.Item/a", "memory.Item/b")}
    # the folder's delete is listed first; the remote refuses to delete a non-empty folder
    plan = make_plan(
        state,
        delete("memory.Folder/f", lives["memory.Folder/f"], remote),
        delete("memory.Item/a", lives["memory.Item/a"], remote, depends_on=["memory.Folder/f"]),
        delete("memory.Item/b", lives["memory.Item/b"], remote, depends_on=["memory.Folder/f"]),
    )
    result = run(plan, remote, state)
    assert {r.address: r.outcome for r in result.results} == dict.fromkeys(lives, Outcome.DONE)
    assert remote.objects("Folder") == [] and remote.objects("Item") == []
    assert state.read().resources == {}


def test_deletes_wait_for_updates_that_move_children_out(remote, state):
    seed(remote, state,
         create("memory.Folder/old", {"name": "old"}),
         create("memory.Folder/new", {"name": "new"}),
         create("memory.Item/x", {"name": "x", "folder_id": ref("memory.Folder/old")}))
    item = live_of(remote, state, "memory.Item/x")
    plan = make_plan(
        state,
        delete("memory.Folder/old", live_of(remote, state, "memory.Folder/old"), remote),
        update("memory.Item/x", item, {"name": "x", "folder_id": ref("memory.Folder/new")}, remote),
    )
    result = run(plan, remote, state)
    assert not result.has_failures, [r.describe() for r in result.results]
    assert [f.fields["name"] for f in remote.objects("Folder")] == ["new"]


@pytest.mark.parametrize("parallelism", [1, 3])
def test_parallelism_bounds_concurrent_calls(tmp_path: Path, state, parallelism: int):
    remote = MemoryProvider.at(tmp_path / "slow.json", latency=0.08)  # calls outlast the state fsyncs
    count = 4 * parallelism
    plan = make_plan(state, *(create(f"memory.Folder/f{i:02}", {"name": f"f{i:02}"}) for i in range(count)))
    result = run(plan, remote, state, parallelism=parallelism)
    assert not result.has_failures
    assert remote.max_in_flight == parallelism  # never above; and the bound is actually used
    assert len(remote.objects("Folder")) == count


def test_failure_skips_transitive_dependents_but_independent_work_finishes(remote, state):
    remote.fail_next("create", error="bad_request", name="broken")
    plan = make_plan(
        state,
        create("memory.Folder/broken", {"name": "broken"}),
        create("memory.Item/in-broken", {"name": "in-broken", "folder_id": ref("memory.Folder/broken")}),
        create("memory.Folder/points-at-item", {"name": "p", "labels": {"i": ref("memory.Item/in-broken")}}),
        create("memory.Folder/fine", {"name": "fine"}),
        create("memory.Item/in-fine", {"name": "in-fine", "folder_id": ref("memory.Folder/fine")}),
    )
    events: list[str] = []
    lock = threading.Lock()

    def on_event(r):
        with lock:
            events.append(r.address)

    result = execute(plan, {"memory": remote}, state, FAST, on_event=on_event)
    outcomes = {r.address: r.outcome for r in result.results}
    assert outcomes == {
        "memory.Folder/broken": Outcome.FAILED,
        "memory.Item/in-broken": Outcome.SKIPPED,
        "memory.Folder/points-at-item": Outcome.SKIPPED,
        "memory.Folder/fine": Outcome.DONE,
        "memory.Item/in-fine": Outcome.DONE,
    }
    broken = result.get("memory.Folder/broken")
    assert broken and "HTTP 400" in broken.message and "bad request" in broken.message
    skipped = result.get("memory.Folder/points-at-item")
    assert skipped and "memory.Item/in-broken" in skipped.message
    assert sorted(events) == sorted(outcomes)
    assert result.has_failures and result.error() is not None and result.error().exit_code == 1
    assert sorted(state.read().resources) == ["memory.Folder/fine", "memory.Item/in-fine"]
    assert state.unfinished_intents() == []


# -- creates are never duplicated -----------------------------------------------------------------

def test_create_whose_answer_is_lost_is_adopted_by_natural_key_not_duplicated(remote, state):
    remote.fail_next("create", after=True, error="server", name="a")  # created remotely, then 503
    result = run(make_plan(state, create("memory.Folder/a", {"name": "a"})), remote, state)
    r = result.get("memory.Folder/a")
    assert r and r.outcome is Outcome.DONE and "natural key" in r.message
    assert len(remote.objects("Folder")) == 1
    # one lookup before any write (made since the plan?), one after the lost answer
    assert remote.calls["create"] == 1 and remote.calls["find"] == 2
    assert state.read().get("memory.Folder/a").remote_id == remote.objects("Folder")[0].remote_id
    assert result.error_budget["server_errors"] == 1 and result.error_budget["retries"] == 1


def test_an_object_made_since_the_plan_is_adopted_not_created_again(remote, state):
    plan = make_plan(state, create("memory.Folder/a", {"name": "a", "color": "red"}))
    made = remote.create("Folder", {"name": "a", "color": "blue"})  # a colleague, between plan and apply
    result = run(plan, remote, state)
    r = result.get("memory.Folder/a")
    assert r is not None and r.outcome is Outcome.DONE and "made since the plan" in r.message, r
    assert [o.remote_id for o in remote.objects("Folder")] == [made.remote_id]
    assert remote.objects("Folder")[0].fields["color"] == "red"  # then brought to the plan's values
    assert remote.calls["create"] == 1  # the colleague's: apply made none


def test_create_that_never_landed_is_retried_after_the_lookup(remote, state):
    remote.fail_next("create", error="rate_limited", name="a", times=2)
    result = run(make_plan(state, create("memory.Folder/a", {"name": "a"})), remote, state)
    assert result.get("memory.Folder/a").outcome is Outcome.DONE
    assert len(remote.objects("Folder")) == 1
    assert remote.calls["create"] == 3 and remote.calls["find"] == 3  # before the first try, after each 429
    assert result.error_budget["rate_limited"] == 2


def test_create_gives_up_after_max_attempts_and_journals_the_failure(remote, state):
    remote.fail_next("create", error="server", name="a", times=10)
    result = run(make_plan(state, create("memory.Folder/a", {"name": "a"})), remote, state, max_attempts=3)
    r = result.get("memory.Folder/a")
    assert r and r.outcome is Outcome.FAILED and "after 3 attempts" in r.message
    assert remote.calls["create"] == 3 and remote.objects("Folder") == []
    assert state.read().resources == {} and state.unfinished_intents() == []


# -- version preconditions: rebase, conflict, force -------------------------------------------------

@pytest.fixture
def folder(remote, state):
    seed(remote, state, create("memory.Folder/f", {"name": "f", "color": "blue", "size": 1}),
         create("memory.Item/child", {"name": "child", "folder_id": ref("memory.Folder/f")}))
    return live_of(remote, state, "memory.Folder/f")


def test_stale_version_with_disjoint_edit_rebases_and_keeps_both_edits(remote, state, folder):
    plan = make_plan(state, update("memory.Folder/f", folder, {"name": "f", "color": "red", "size": 1}, remote))
    remote.edit_out_of_band("Folder", folder.remote_id, {"labels": {"team": "ops"}}, user="alice")
    result = run(plan, remote, state)
    r = result.get("memory.Folder/f")
    assert r and r.outcome is Outcome.REBASED
    assert "rebased" in r.message and "version 1 -> 2" in r.message
    live = remote.read("Folder", [folder.remote_id])[folder.remote_id]
    assert live.fields["color"] == "red" and live.fields["labels"] == {"team": "ops"}
    rs = state.read().get("memory.Folder/f")
    assert rs.version == live.version == 3 and rs.fingerprint == live.fingerprint
    assert not result.has_failures


def test_stale_version_with_overlapping_edit_is_a_conflict_showing_both_sides(remote, state, folder):
    item = live_of(remote, state, "memory.Item/child")
    plan = make_plan(
        state,
        update("memory.Folder/f", folder, {"name": "f", "color": "red", "size": 1}, remote),
        update("memory.Item/child", item, {"name": "child", "folder_id": ref("memory.Folder/f"), "price": 3},
               remote, depends_on=["memory.Folder/f"]),
        create("memory.Folder/unrelated", {"name": "unrelated"}),
    )
    theirs = remote.edit_out_of_band("Folder", folder.remote_id, {"color": "green"}, user="bob")
    before_state = state.read().get("memory.Folder/f")
    result = run(plan, remote, state)
    r = result.get("memory.Folder/f")
    assert r and r.outcome is Outcome.CONFLICT
    assert r.conflict_fields == (("color", "blue", "red", "green"),)
    assert "bob changed color since the plan" in r.message  # named from the history, not "someone else"
    assert r.other_writers[0].user == "bob"
    assert result.get("memory.Item/child").outcome is Outcome.SKIPPED
    assert result.get("memory.Folder/unrelated").outcome is Outcome.DONE
    live = remote.read("Folder", [folder.remote_id])[folder.remote_id]
    assert live.fields["color"] == "green" and live.version == theirs.version  # nothing written
    assert state.read().get("memory.Folder/f") == before_state
    assert result.conflicts == (r,)
    error = result.error()
    assert error is not None and error.exit_code == 3 and "'green'" in str(error)
    assert "set by bob at" in str(error) and "'reconciler apply --force-conflicts'" in str(error)  # the way out
    assert state.unfinished_intents() == []


def test_force_conflicts_overwrites_and_says_so(remote, state, folder):
    plan = make_plan(state, update("memory.Folder/f", folder, {"name": "f", "color": "red", "size": 1}, remote))
    remote.edit_out_of_band("Folder", folder.remote_id, {"color": "green", "size": 9}, user="bob")
    result = run(plan, remote, state, force_conflicts=True)
    r = result.get("memory.Folder/f")
    assert r and r.outcome is Outcome.DONE and "forced" in r.message
    assert r.conflict_fields == (("color", "blue", "red", "green"),)
    live = remote.read("Folder", [folder.remote_id])[folder.remote_id]
    assert live.fields["color"] == "red" and live.fields["size"] == 9  # size was not ours to set


def test_other_writer_already_set_our_value(remote, state, folder):
    plan = make_plan(state, update("memory.Folder/f", folder, {"name": "f", "color": "red", "size": 1}, remote))
    remote.edit_out_of_band("Folder", folder.remote_id, {"color": "red"})
    result = run(plan, remote, state)
    r = result.get("memory.Folder/f")
    assert r and r.outcome is Outcome.DONE and "already live" in r.message
    assert "another writer" in r.message
    assert remote.read("Folder", [folder.remote_id])[folder.remote_id].version == 2  # we wrote nothing


def test_update_whose_answer_was_lost_is_not_reapplied(remote, state, folder):
    remote.fail_next("update", after=True, error="server")
    plan = make_plan(state, update("memory.Folder/f", folder, {"name": "f", "color": "red", "size": 1}, remote))
    result = run(plan, remote, state)
    r = result.get("memory.Folder/f")
    assert r and r.outcome is Outcome.DONE and "earlier attempt had landed" in r.message
    assert remote.calls["update"] == 1
    assert state.read().get("memory.Folder/f").version == 2


def test_update_retried_after_a_transient_error(remote, state, folder):
    remote.fail_next("update", error="rate_limited", times=2)
    plan = make_plan(state, update("memory.Folder/f", folder, {"name": "f", "color": "red", "size": 1}, remote))
    result = run(plan, remote, state)
    assert result.get("memory.Folder/f").outcome is Outcome.DONE
    assert remote.calls["update"] == 3
    assert result.error_budget["rate_limited"] == 2 and result.error_budget["retries"] == 2


def test_rebase_happens_once_only(remote, state, folder, monkeypatch):
    plan = make_plan(state, update("memory.Folder/f", folder, {"name": "f", "color": "red", "size": 1}, remote))
    real_update = remote.update

    def racing_update(kind, remote_id, changes, precondition):  # someone writes before each of ours
        remote.edit_out_of_band(kind, remote_id, {"size": remote.calls["update"] + 10})
        return real_update(kind, remote_id, changes, precondition)

    monkeypatch.setattr(remote, "update", racing_update)
    result = run(plan, remote, state)
    r = result.get("memory.Folder/f")
    assert r and r.outcome is Outcome.CONFLICT and "changed again while rebasing" in r.message
    assert remote.read("Folder", [folder.remote_id])[folder.remote_id].fields["color"] == "blue"


# -- fingerprint preconditions ---------------------------------------------------------------------

@pytest.fixture
def unversioned(tmp_path: Path, state):
    remote = MemoryProvider.at(tmp_path / "fp.json", versioned=False)
    seed(remote, state, create("memory.Folder/f", {"name": "f", "color": "blue"}))
    return remote, live_of(remote, state, "memory.Folder/f")


def test_fingerprint_precondition_clean_write(unversioned, state):
    remote, live = unversioned
    change = update("memory.Folder/f", live, {"name": "f", "color": "red"}, remote)
    assert change.precondition.kind is PreconditionKind.FINGERPRINT
    result = run(make_plan(state, change), remote, state)
    assert result.get("memory.Folder/f").outcome is Outcome.DONE
    new = remote.read("Folder", [live.remote_id])[live.remote_id]
    rs = state.read().get("memory.Folder/f")
    assert rs.fingerprint == new.fingerprint and rs.version is None and new.fields["color"] == "red"


def test_fingerprint_mismatch_disjoint_rebases(unversioned, state):
    remote, live = unversioned
    plan = make_plan(state, update("memory.Folder/f", live, {"name": "f", "color": "red"}, remote))
    remote.edit_out_of_band("Folder", live.remote_id, {"size": 5})
    result = run(plan, remote, state)
    r = result.get("memory.Folder/f")
    assert r and r.outcome is Outcome.REBASED and "fingerprint changed" in r.message
    fields = remote.read("Folder", [live.remote_id])[live.remote_id].fields
    assert fields["color"] == "red" and fields["size"] == 5


def test_fingerprint_mismatch_overlapping_is_caught_before_any_write(unversioned, state):
    remote, live = unversioned
    plan = make_plan(state, update("memory.Folder/f", live, {"name": "f", "color": "red"}, remote))
    remote.edit_out_of_band("Folder", live.remote_id, {"color": "green"})
    result = run(plan, remote, state)
    r = result.get("memory.Folder/f")
    assert r and r.outcome is Outcome.CONFLICT and r.conflict_fields == (("color", "blue", "red", "green"),)
    assert remote.calls["update"] == 0


# -- deletes, replace, no-write actions --------------------------------------------------------------

def test_delete_of_an_object_already_gone_just_forgets_it(remote, state, folder):
    item = live_of(remote, state, "memory.Item/child")
    remote.delete_out_of_band("Item", item.remote_id)
    result = run(make_plan(state, delete("memory.Item/child", item, remote)), remote, state)
    r = result.get("memory.Item/child")
    assert r and r.outcome is Outcome.DONE and "already gone" in r.message
    assert state.read().get("memory.Item/child") is None


def test_delete_of_an_object_changed_since_the_plan_is_a_conflict(remote, state, folder):
    item = live_of(remote, state, "memory.Item/child")
    plan = make_plan(state, delete("memory.Item/child", item, remote, owned=["name", "folder_id", "price"]))
    remote.edit_out_of_band("Item", item.remote_id, {"price": 99})
    result = run(plan, remote, state)
    r = result.get("memory.Item/child")
    assert r and r.outcome is Outcome.CONFLICT and r.conflict_fields == (("price", 0.0, None, 99.0),)
    assert len(remote.objects("Item")) == 1 and state.read().get("memory.Item/child") is not None


def test_delete_after_unrelated_out_of_band_change_rebases(remote, state, folder):
    item = live_of(remote, state, "memory.Item/child")
    plan = make_plan(state, delete("memory.Item/child", item, remote, owned=["name", "folder_id"]))
    remote.edit_out_of_band("Item", item.remote_id, {"tags": ["x"]})
    result = run(plan, remote, state)
    assert result.get("memory.Item/child").outcome is Outcome.REBASED
    assert remote.objects("Item") == []


def test_prevent_destroy_refuses_the_delete(remote, state, folder):
    item = live_of(remote, state, "memory.Item/child")
    result = run(make_plan(state, delete("memory.Item/child", item, remote, prevent_destroy=True)), remote, state)
    r = result.get("memory.Item/child")
    assert r and r.outcome is Outcome.FAILED and "prevent_destroy" in r.message
    assert remote.calls["delete"] == 0 and len(remote.objects("Item")) == 1


def test_replace_deletes_then_creates(remote, state):
    seed(remote, state, create("memory.Folder/r", {"name": "r", "region": "eu"}))
    old = live_of(remote, state, "memory.Folder/r")
    change = update("memory.Folder/r", old, {"name": "r", "region": "us"}, remote)
    plan = make_plan(state, change._replace(action=Action.REPLACE, replace_paths=("region",)))
    result = run(plan, remote, state)
    r = result.get("memory.Folder/r")
    assert r and r.outcome is Outcome.DONE and f"replaced {old.remote_id}" in r.message
    [new] = remote.objects("Folder")
    assert new.remote_id != old.remote_id and new.fields["region"] == "us"
    assert state.read().get("memory.Folder/r").remote_id == new.remote_id == r.remote_id


def test_adopt_abandon_manual_and_noop_refresh(remote, state, folder):
    other = remote.create("Folder", {"name": "adopt-me", "size": 3})
    item = live_of(remote, state, "memory.Item/child")
    remote.edit_out_of_band("Folder", folder.remote_id, {"labels": {"k": "v"}})  # not an owned field
    fresh = remote.read("Folder", [folder.remote_id])[folder.remote_id]
    noop = Change("memory.Folder/f", "memory", "Folder", Action.NOOP, remote_id=folder.remote_id,
                  before={"name": "f", "color": "blue", "size": 1}, after={"name": "f", "color": "blue", "size": 1},
                  precondition=Precondition(PreconditionKind.VERSION, fresh.version), prevent_destroy=True)
    plan = make_plan(
        state,
        noop,
        Change("memory.Folder/adopted", "memory", "Folder", Action.ADOPT, remote_id=other.remote_id,
               before={"name": "adopt-me"}, after={"name": "adopt-me"}),
        Change("memory.Item/child", "memory", "Item", Action.ABANDON, remote_id=item.remote_id),
        Change("memory.Folder/by-hand", "memory", "Folder", Action.MANUAL,
               manual_steps=("ask the vendor to create folder 'by-hand'",)),
    )
    writes_before = sum(remote.calls[op] for op in ("create", "update", "delete"))
    result = run(plan, remote, state)
    assert {r.address: r.outcome for r in result.results} == {
        "memory.Folder/f": Outcome.DONE,
        "memory.Folder/adopted": Outcome.DONE,
        "memory.Item/child": Outcome.DONE,
        "memory.Folder/by-hand": Outcome.MANUAL,
    }
    assert sum(remote.calls[op] for op in ("create", "update", "delete")) == writes_before
    snap = state.read()
    assert snap.get("memory.Folder/f").version == fresh.version
    assert snap.get("memory.Folder/f").fingerprint == fresh.fingerprint
    assert snap.get("memory.Folder/f").prevent_destroy is True
    assert snap.get("memory.Folder/adopted").remote_id == other.remote_id
    assert snap.get("memory.Item/child") is None and len(remote.objects("Item")) == 1
    manual = result.get("memory.Folder/by-hand")
    assert "ask the vendor" in manual.message and not result.has_failures  # pending, not failed
    assert [r.address for r in result.pending] == ["memory.Folder/by-hand"]


def test_manual_parent_skips_children(remote, state):
    plan = make_plan(
        state,
        Change("memory.Folder/by-hand", "memory", "Folder", Action.MANUAL, manual_steps=("create it in the UI",)),
        create("memory.Item/i", {"name": "i", "folder_id": ref("memory.Folder/by-hand")}),
    )
    result = run(plan, remote, state)
    assert result.get("memory.Item/i").outcome is Outcome.WAITING
    assert "memory.Folder/by-hand, which needs a console step first" in result.get("memory.Item/i").message
    assert remote.calls["create"] == 0 and not result.has_failures


def test_unknown_provider_fails_that_resource_only(remote, state):
    plan = make_plan(state, create("other.Folder/x", {"name": "x"}), create("memory.Folder/y", {"name": "y"}))
    result = run(plan, remote, state)
    assert result.get("other.Folder/x").outcome is Outcome.FAILED
    assert "provider 'other' is not configured" in result.get("other.Folder/x").message
    assert result.get("memory.Folder/y").outcome is Outcome.DONE


def test_dependency_cycle_fails_those_changes_and_duplicates_are_refused(remote, state):
    from reconciler.errors import PlanError

    plan = make_plan(
        state,
        create("memory.Folder/a", {"name": "a"}, depends_on=["memory.Folder/b"]),
        create("memory.Folder/b", {"name": "b"}, depends_on=["memory.Folder/a"]),
        create("memory.Folder/c", {"name": "c"}),
    )
    result = run(plan, remote, state)
    assert {r.address: r.outcome for r in result.results} == {
        "memory.Folder/a": Outcome.FAILED, "memory.Folder/b": Outcome.FAILED, "memory.Folder/c": Outcome.DONE}
    assert "cycle" in result.get("memory.Folder/a").message
    with pytest.raises(PlanError, match="two changes for memory.Folder/c"):
        run(make_plan(state, create("memory.Folder/c", {"name": "c"}), create("memory.Folder/c", {"name": "c"})),
            remote, state)


def test_partly_owned_map_edited_out_of_band_is_merged_not_a_conflict(remote, state):
    seed(remote, state, create("memory.Folder/m", {"name": "m", "labels": {"team": "ads"}}))
    live = live_of(remote, state, "memory.Folder/m")
    # the builder's before is live projected onto owned fields: only labels.team is ours
    change = update("memory.Folder/m", live, {"name": "m", "labels": {"team": "data"}}, remote)
    remote.edit_out_of_band("Folder", live.remote_id, {"labels": {"team": "ads", "cost-center": "42"}})
    result = run(make_plan(state, change), remote, state)
    assert result.get("memory.Folder/m").outcome is Outcome.REBASED
    # their key inside the map we own part of survives our write
    assert live_of(remote, state, "memory.Folder/m").fields["labels"] == {"team": "data", "cost-center": "42"}
    remote.edit_out_of_band("Folder", live.remote_id, {"labels": {"team": "bi", "cost-center": "42"}})
    fresh = live_of(remote, state, "memory.Folder/m")
    change = update("memory.Folder/m", fresh, {"name": "m", "labels": {"team": "ops"}}, remote)
    change = change._replace(before={"name": "m", "labels": {"team": "bi"}})
    remote.edit_out_of_band("Folder", live.remote_id, {"labels": {"team": "web", "cost-center": "42"}})
    r = run(make_plan(state, change), remote, state).get("memory.Folder/m")
    assert r.outcome is Outcome.CONFLICT
    assert r.conflict_fields == (("labels", {"team": "bi"}, {"team": "ops"}, {"team": "web"}),)  # owned part only


def test_update_of_a_partly_owned_map_keeps_keys_the_manifest_never_wrote(remote, state):
    seed(remote, state, create("memory.Folder/k", {"name": "k", "labels": {"team": "ads", "cost-center": "42"}}))
    live = live_of(remote, state, "memory.Folder/k")
    change = Change("memory.Folder/k", "memory", "Folder", Action.UPDATE, remote_id=live.remote_id,
                    before={"labels": {"team": "ads"}}, after={"labels": {"team": "data"}},
                    field_changes=(FieldChange("labels.team", "ads", "data"),),
                    precondition=remote.precondition_for(live))
    result = run(make_plan(state, change), remote, state)
    assert result.get("memory.Folder/k").outcome is Outcome.DONE
    assert live_of(remote, state, "memory.Folder/k").fields["labels"] == {"team": "data", "cost-center": "42"}


def test_retry_after_is_honoured(tmp_path: Path, state):
    import time

    remote = MemoryProvider.at(tmp_path / "r.json", retry_after=0.3)
    remote.fail_next("create", error="rate_limited", name="f0")
    plan = make_plan(state, create("memory.Folder/f0", {"name": "f0"}),
                     *(create(f"memory.Folder/g{i}", {"name": f"g{i}"}, depends_on=["memory.Folder/f0"])
                       for i in range(3)))
    started = time.monotonic()
    result = run(plan, remote, state, retry_max_delay=5.0)
    assert not result.has_failures and time.monotonic() - started >= 0.3
    assert result.error_budget["rate_limited"] == 1 and len(remote.objects("Folder")) == 4
