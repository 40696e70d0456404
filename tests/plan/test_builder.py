"""The pure plan builder, from hand-built desired resources, state and live objects.

Covers: every action (create, update, replace, delete, no-op, adopt, manual, abandon) and its
reason/precondition; field ownership (server-set fields never show, nested mappings, lists
whole, write-only fields); ignore_changes (top-level and nested); the per-kind normalisation
hook; references known (resolved to state ids) and unknown (kept as Ref for creates and
replaces); live objects deleted outside reconciler; read-only kinds; prevent_destroy from state
blocking delete and replace; on_delete abandon and undeletable kinds; reverse dependency order
of deletes; destroy mode; targets; live status carried; Plan.drift; deterministic output;
input errors; and the deepdiff fast path (20,000 unchanged resources, zero deepdiff calls).
Every plan built here is validated against schemas/plan.schema.json and round-tripped through
a plan file (see fixtures.make_plan).
"""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from reconciler.diff import FieldDiffer
from reconciler.errors import PlanError
from reconciler.model import OnDelete, Ref
from reconciler.plan.builder import PlanInput, build_plan, delete_order
from reconciler.plan.model import Action, FieldChange
from reconciler.plan.render import render_json, render_text
from reconciler.providers.base import KindInfo, Precondition, PreconditionKind
from tests.plan.fixtures import (
    Calls,
    by_address,
    check_plan_json,
    desired,
    live,
    make_plan,
    ref,
    resource,
    snapshot,
    views,
)

ADV = "mediamath.Advertiser/acme"
CAMP = "mediamath.Campaign/summer"
STRAT = "mediamath.Strategy/prospecting"
ORG = "mediamath.Organization/main"

ADV_SPEC = {"agency_id": "7", "name": "Acme"}
CAMP_SPEC = {"advertiser_id": "101", "name": "Summer Sale", "status": False, "total_budget": 500}


def test_create_when_not_in_state() -> None:
    plan = make_plan([desired(CAMP, CAMP_SPEC)])
    (c,) = plan.changes
    assert c.action is Action.CREATE
    assert c.before is None and c.after == CAMP_SPEC
    assert c.precondition == Precondition(PreconditionKind.NONE)
    assert [fc.path for fc in c.field_changes] == ["advertiser_id", "name", "status", "total_budget"]
    assert all(fc.before is None for fc in c.field_changes)
    assert plan.lineage == "lin-1" and plan.serial == 7
    assert plan.has_changes


def test_noop_when_live_matches_and_server_fields_never_show() -> None:
    state = snapshot(resource(CAMP, "201", CAMP_SPEC, version=3))
    server_side = {**CAMP_SPEC, "created_on": "2026-01-01", "version": 3, "goal_value": 2.5}
    plan = make_plan([desired(CAMP, CAMP_SPEC)], state, {CAMP: live(CAMP, "201", server_side, version=3)})
    (c,) = plan.changes
    assert c.action is Action.NOOP
    assert c.reason == "no changes"
    assert c.field_changes == ()
    assert set(c.before or {}) == set(CAMP_SPEC)  # only owned fields
    assert not plan.has_changes
    assert "No changes. Live objects match the manifests." in render_text(plan)


def test_update_has_field_changes_and_version_precondition() -> None:
    state = snapshot(resource(CAMP, "201", CAMP_SPEC, version=3))
    wanted = {**CAMP_SPEC, "total_budget": 700}
    plan = make_plan(
        [desired(CAMP, wanted)], state, {CAMP: live(CAMP, "201", {**CAMP_SPEC, "created_on": "x"}, version=3)}
    )
    (c,) = plan.changes
    assert c.action is Action.UPDATE
    assert c.remote_id == "201"
    assert c.field_changes == (FieldChange("total_budget", 500.0, 700.0),)
    assert c.precondition == Precondition(PreconditionKind.VERSION, 3)
    assert c.after == wanted  # what apply writes: the resolved spec as written


def test_update_without_version_uses_fingerprint_precondition() -> None:
    spec = {"name": "Room", "description": "old"}
    addr = "liveramp.Cleanroom/room"
    obj = live(addr, "cr-1", spec)
    plan = make_plan(
        [desired(addr, {**spec, "description": "new"})], snapshot(resource(addr, "cr-1", spec)), {addr: obj}
    )
    (c,) = plan.changes
    assert c.action is Action.UPDATE
    assert c.precondition == Precondition(PreconditionKind.FINGERPRINT, obj.fingerprint)


def test_nested_ownership_and_nested_paths() -> None:
    addr = "mediarithmics.CleanRoom/shared"
    written = {
        "name": "Shared",
        "settings": {"retention_days": 30, "members": [{"org": "a", "purposes": ["x"]}]},
    }
    server = {
        "name": "Shared",
        "settings": {"retention_days": 30, "members": [{"org": "a", "purposes": ["x"]}], "server_default": 1},
        "created_at": "2026-01-01",
    }
    state = snapshot(resource(addr, "9", written))
    same = make_plan([desired(addr, written)], state, {addr: live(addr, "9", server)})
    assert same.changes[0].action is Action.NOOP  # server_default inside a written mapping is not owned

    changed = {
        "name": "Shared",
        "settings": {"retention_days": 60, "members": [{"org": "a", "purposes": ["x", "y"]}]},
    }
    differ = FieldDiffer()
    plan = make_plan([desired(addr, changed)], state, {addr: live(addr, "9", server)}, differ=differ)
    (c,) = plan.changes
    assert c.action is Action.UPDATE
    assert [(fc.path, fc.before, fc.after) for fc in c.field_changes] == [
        ("settings.members.0.purposes.1", None, "y"),
        ("settings.retention_days", 30, 60),
    ]
    assert differ.deepdiff_calls == 1  # one differing container field


def test_lists_are_owned_whole() -> None:
    addr = "mediarithmics.CleanRoom/shared"
    written = {"members": [{"org": "a"}]}
    server = {"members": [{"org": "a", "joined": "2026-01-01"}]}
    plan = make_plan(
        [desired(addr, written)], snapshot(resource(addr, "9", written)), {addr: live(addr, "9", server)}
    )
    (c,) = plan.changes
    assert c.action is Action.UPDATE
    assert [fc.path for fc in c.field_changes] == ["members.0.joined"]


def test_write_only_fields_are_not_compared() -> None:
    spec = {**CAMP_SPEC, "secret_note": "only sent on write"}
    state = snapshot(resource(CAMP, "201", spec))
    plan = make_plan([desired(CAMP, spec)], state, {CAMP: live(CAMP, "201", CAMP_SPEC)})
    assert plan.changes[0].action is Action.NOOP


def test_ignore_changes_top_level_and_nested() -> None:
    spec = {**CAMP_SPEC, "goal_value": 5, "targeting": {"geo": ["US"], "device": "mobile"}}
    server = {**CAMP_SPEC, "goal_value": 9, "targeting": {"geo": ["US"], "device": "desktop"}}
    state = snapshot(resource(CAMP, "201", spec))
    ignored = make_plan(
        [desired(CAMP, spec, ignore=["goal_value", "spec.targeting.device"])],
        state,
        {CAMP: live(CAMP, "201", server)},
    )
    assert ignored.changes[0].action is Action.NOOP
    assert ignored.drift == ()  # ignore rules apply to drift too

    not_ignored = make_plan(
        [desired(CAMP, spec, ignore=["goal_value"])], state, {CAMP: live(CAMP, "201", server)}
    )
    assert [fc.path for fc in not_ignored.changes[0].field_changes] == ["targeting.device"]


def test_normalisation_hook_is_used() -> None:
    spec = {**CAMP_SPEC, "total_budget": "500.00"}
    state = snapshot(resource(CAMP, "201", spec))
    server = {CAMP: live(CAMP, "201", {**CAMP_SPEC, "total_budget": 500.0})}
    calls = Calls()
    plan = make_plan([desired(CAMP, spec)], state, server, providers=views(calls=calls))
    assert plan.changes[0].action is Action.NOOP
    assert calls.normalize >= 1

    raw = make_plan([desired(CAMP, spec)], state, server, providers=views(normalize=False))
    assert raw.changes[0].action is Action.UPDATE  # without the hook the quirk shows as a change
    assert raw.changes[0].field_changes == (FieldChange("total_budget", 500.0, "500.00"),)


def test_known_reference_resolves_to_state_id() -> None:
    state = snapshot(
        resource(ADV, "101", ADV_SPEC),
        resource(CAMP, "201", CAMP_SPEC, deps=[ADV]),
    )
    spec = {**CAMP_SPEC, "advertiser_id": ref(ADV)}
    plan = make_plan(
        [desired(ADV, ADV_SPEC), desired(CAMP, spec)],
        state,
        {ADV: live(ADV, "101", ADV_SPEC), CAMP: live(CAMP, "201", CAMP_SPEC)},
    )
    camp = by_address(plan)[CAMP]
    assert camp.action is Action.NOOP
    assert camp.after is not None and camp.after["advertiser_id"] == "101"
    assert camp.depends_on == (ADV,)


def test_unknown_reference_stays_ref_and_renders_known_after_apply() -> None:
    spec = {**CAMP_SPEC, "advertiser_id": ref(ADV)}
    plan = make_plan([desired(ADV, ADV_SPEC), desired(CAMP, spec)])
    camp = by_address(plan)[CAMP]
    assert camp.action is Action.CREATE
    assert camp.after is not None and camp.after["advertiser_id"] == Ref(ref(ADV).target)
    assert "advertiser_id = (known after apply)" in render_text(plan)
    data = render_json(plan)
    entry = next(e for e in data["resource_changes"] if e["address"] == CAMP)
    assert entry["change"]["after"]["advertiser_id"] is None
    assert entry["change"]["after_unknown"] == {"advertiser_id": True}


def test_replaced_parent_makes_child_reference_unknown_and_cascades_replace() -> None:
    adv_old = {**ADV_SPEC}
    adv_new = {**ADV_SPEC, "agency_id": "8"}
    providers = views()
    base = providers["mediamath"]

    def kind_info(kind: str) -> KindInfo:  # Advertiser.agency_id immutable in this scenario
        info = base.kind_info(kind)
        return replace(info, immutable_fields=frozenset({"agency_id"})) if kind == "Advertiser" else info

    providers["mediamath"] = replace(base, kind_info=kind_info)
    state = snapshot(resource(ADV, "101", adv_old), resource(CAMP, "201", CAMP_SPEC, deps=[ADV]))
    plan = make_plan(
        [desired(ADV, adv_new), desired(CAMP, {**CAMP_SPEC, "advertiser_id": ref(ADV)})],
        state,
        {ADV: live(ADV, "101", adv_old), CAMP: live(CAMP, "201", CAMP_SPEC)},
        providers=providers,
    )
    adv, camp = plan.changes
    assert adv.action is Action.REPLACE and adv.replace_paths == ("agency_id",)
    assert camp.action is Action.REPLACE  # its parent id changes, and advertiser_id is immutable
    assert camp.replace_paths == ("advertiser_id",)
    assert isinstance(camp.field_changes[0].after, Ref)


def test_deleted_outside_reconciler_is_recreated() -> None:
    state = snapshot(resource(CAMP, "201", CAMP_SPEC))
    plan = make_plan([desired(CAMP, CAMP_SPEC)], state, {CAMP: None})
    (c,) = plan.changes
    assert c.action is Action.CREATE
    assert c.reason == "deleted outside reconciler"
    assert plan.drift[0].action is Action.DELETE and plan.drift[0].address == CAMP


def test_adopt_found_object() -> None:
    found = live(CAMP, "555", {**CAMP_SPEC, "created_on": "x"}, version=1)
    plan = make_plan([desired(CAMP, CAMP_SPEC)], found={CAMP: found})
    (c,) = plan.changes
    assert c.action is Action.ADOPT
    assert c.remote_id == "555"
    assert c.field_changes == ()
    assert c.precondition == Precondition(PreconditionKind.VERSION, 1)
    assert plan.warnings == ()
    entry = render_json(plan)["resource_changes"][0]
    assert entry["change"]["actions"] == ["no-op"] and entry["change"]["importing"] == {"id": "555"}


def test_adopted_parent_id_resolves_child_reference() -> None:
    found = live(ADV, "777", ADV_SPEC)
    plan = make_plan(
        [desired(ADV, ADV_SPEC), desired(CAMP, {**CAMP_SPEC, "advertiser_id": ref(ADV)})], found={ADV: found}
    )
    camp = by_address(plan)[CAMP]
    assert camp.after is not None and camp.after["advertiser_id"] == "777"


def test_adopt_with_differences_plans_the_update_in_the_same_change() -> None:
    found = live(CAMP, "555", {**CAMP_SPEC, "total_budget": 100})
    plan = make_plan([desired(CAMP, CAMP_SPEC)], found={CAMP: found})
    (c,) = plan.changes
    assert c.action is Action.ADOPT and c.remote_id == "555"
    assert [(fc.path, fc.before, fc.after) for fc in c.field_changes] == [("total_budget", 100, CAMP_SPEC["total_budget"])]
    assert "1 field differs" in c.reason and plan.warnings == ()
    assert "EXISTS already and will be ADOPTED into state, then updated in-place" in render_text(plan)
    entry = render_json(plan)["resource_changes"][0]
    assert entry["change"]["actions"] == ["update"] and entry["change"]["importing"] == {"id": "555"}


def test_read_only_kind_adopted_never_created() -> None:
    org = live(ORG, "1", {"name": "Main"})
    assert make_plan([desired(ORG, {"name": "Main"})], found={ORG: org}).changes[0].action is Action.ADOPT
    with pytest.raises(PlanError, match=r"mediamath\.Organization/main: Organization is read-only"):
        make_plan([desired(ORG, {"name": "Main"})])


def test_read_only_kind_in_state_never_writes() -> None:
    state = snapshot(resource(ORG, "1", {"name": "Main"}))
    plan = make_plan([desired(ORG, {"name": "Main"})], state, {ORG: live(ORG, "1", {"name": "Renamed"})})
    (c,) = plan.changes
    assert c.action is Action.NOOP and "read-only" in c.reason
    assert any("read-only" in w and "name" in w for w in plan.warnings)
    removed = make_plan([], state, {ORG: live(ORG, "1", {"name": "Main"})})
    assert removed.changes[0].action is Action.ABANDON
    assert not any(c.action.writes for c in removed.changes)


def test_replace_on_immutable_field() -> None:
    state = snapshot(resource(CAMP, "201", CAMP_SPEC, version=4))
    plan = make_plan(
        [desired(CAMP, {**CAMP_SPEC, "advertiser_id": "102"})],
        state,
        {CAMP: live(CAMP, "201", CAMP_SPEC, version=4)},
    )
    (c,) = plan.changes
    assert c.action is Action.REPLACE
    assert c.replace_paths == ("advertiser_id",)
    assert "immutable field 'advertiser_id'" in c.reason
    assert c.precondition == Precondition(PreconditionKind.VERSION, 4)
    text = render_text(plan)
    assert "must be REPLACED" in text and "# forces replacement" in text


@pytest.mark.parametrize("where", ["state", "manifest"])
def test_prevent_destroy_blocks_replace(where: str) -> None:
    state = snapshot(resource(CAMP, "201", CAMP_SPEC, prevent_destroy=where == "state"))
    with pytest.raises(PlanError, match=r"mediamath\.Campaign/summer: .*prevent_destroy"):
        make_plan(
            [desired(CAMP, {**CAMP_SPEC, "advertiser_id": "102"}, prevent_destroy=where == "manifest")],
            state,
            {CAMP: live(CAMP, "201", CAMP_SPEC)},
        )


def test_manual_update_and_create() -> None:
    addr = "liveramp.CleanroomPartner/agency"
    spec = {"cleanroom_id": "cr-1", "email": "a@b.c", "role": "analyst"}
    state = snapshot(resource(addr, "p-1", spec))
    providers = views(manual={("CleanroomPartner", "update"): "Change the role in the LiveRamp UI"})
    plan = make_plan(
        [desired(addr, {**spec, "role": "admin"})],
        state,
        {addr: live(addr, "p-1", spec, status="invited")},
        providers=providers,
    )
    (c,) = plan.changes
    assert c.action is Action.MANUAL
    assert c.manual_steps == ("Change the role in the LiveRamp UI (liveramp.CleanroomPartner/agency: role)",)
    assert c.status == "invited"
    assert render_json(plan)["resource_changes"][0]["change"]["actions"] == ["update"]

    creating = make_plan(
        [desired(addr, spec)], providers=views(manual={("CleanroomPartner", "create"): "Invite in the UI"})
    )
    assert creating.changes[0].action is Action.MANUAL
    assert render_json(creating)["resource_changes"][0]["change"]["actions"] == ["create"]
    assert "1 manual" in render_text(creating)


def test_delete_when_removed_from_manifests() -> None:
    state = snapshot(resource(CAMP, "201", CAMP_SPEC, version=5))
    plan = make_plan([], state, {CAMP: live(CAMP, "201", {**CAMP_SPEC, "created_on": "x"}, version=5)})
    (c,) = plan.changes
    assert c.action is Action.DELETE
    assert c.reason == "not in manifests"
    assert c.after is None and c.before == CAMP_SPEC
    assert c.precondition == Precondition(PreconditionKind.VERSION, 5)
    assert all(fc.after is None for fc in c.field_changes)


def test_prevent_destroy_in_state_blocks_delete_when_yaml_removed() -> None:
    state = snapshot(resource(CAMP, "201", CAMP_SPEC, prevent_destroy=True))
    with pytest.raises(PlanError) as info:
        make_plan([], state, {CAMP: live(CAMP, "201", CAMP_SPEC)})
    assert CAMP in str(info.value) and "prevent_destroy" in str(info.value)
    assert "cannot be deleted; to allow it, restore its manifest with prevent_destroy: false" in str(info.value)
    with pytest.raises(PlanError) as info:  # destroy: the manifest is still there
        make_plan([desired(CAMP, CAMP_SPEC, prevent_destroy=True)], state, {CAMP: live(CAMP, "201", CAMP_SPEC)}, destroy=True)
    assert "to allow it, set prevent_destroy: false in its manifest and apply first" in str(info.value)


def test_abandon_variants() -> None:
    room = "liveramp.Cleanroom/room"
    ds = "liveramp.CleanroomDataset/events"
    gone = "mediamath.Strategy/gone"
    state = snapshot(
        resource(CAMP, "201", CAMP_SPEC, on_delete="abandon", prevent_destroy=True),
        resource(room, "cr-1", {"name": "Room"}),
        resource(ds, "ds-1", {"name": "events"}),
        resource(gone, "301", {"name": "x"}),
    )
    plan = make_plan(
        [],
        state,
        {
            CAMP: live(CAMP, "201", CAMP_SPEC),
            room: live(room, "cr-1", {"name": "Room"}),
            ds: live(ds, "ds-1", {"name": "events"}),
            gone: None,
        },
    )
    changes = by_address(plan)
    assert all(c.action is Action.ABANDON for c in plan.changes)
    assert "on_delete: abandon" in changes[CAMP].reason  # abandon is allowed despite prevent_destroy
    assert "on_delete: abandon" in changes[room].reason  # the kind's default
    assert "cannot delete a CleanroomDataset" in changes[ds].reason
    assert "already deleted outside reconciler" in changes[gone].reason
    assert "4 to abandon" in render_text(plan)
    assert {e["change"]["actions"][0] for e in render_json(plan)["resource_changes"]} == {"forget"}


def test_deletes_come_last_in_reverse_dependency_order() -> None:
    state = snapshot(
        resource(ADV, "101", ADV_SPEC),
        resource(CAMP, "201", CAMP_SPEC, deps=[ADV]),
        resource(STRAT, "301", {"name": "p"}, deps=[CAMP]),
        resource("mediamath.Strategy/alpha", "302", {"name": "a"}, deps=[CAMP]),
    )
    new = "mediamath.Advertiser/new"
    plan = make_plan(
        [desired(new, ADV_SPEC)],
        state,
        {
            ADV: live(ADV, "101", ADV_SPEC),
            CAMP: live(CAMP, "201", CAMP_SPEC),
            STRAT: live(STRAT, "301", {"name": "p"}),
            "mediamath.Strategy/alpha": live(STRAT, "302", {"name": "a"}),
        },
    )
    assert [c.address for c in plan.changes] == [new, "mediamath.Strategy/alpha", STRAT, CAMP, ADV]
    assert [c.action for c in plan.changes] == [Action.CREATE] + [Action.DELETE] * 4


def test_delete_order_helper_handles_cycles_deterministically() -> None:
    state = snapshot(resource("a.K/x", "1", {}, deps=["a.K/y"]), resource("a.K/y", "2", {}, deps=["a.K/x"]))
    assert delete_order(["a.K/y", "a.K/x"], state.resources) == ["a.K/x", "a.K/y"]


def test_destroy_plans_deletion_of_everything_in_state() -> None:
    state = snapshot(resource(ADV, "101", ADV_SPEC), resource(CAMP, "201", CAMP_SPEC, deps=[ADV]))
    lv = {ADV: live(ADV, "101", ADV_SPEC), CAMP: live(CAMP, "201", CAMP_SPEC)}
    plan = make_plan(
        [desired(ADV, ADV_SPEC), desired(CAMP, CAMP_SPEC), desired(STRAT, {})], state, lv, destroy=True
    )
    assert [(c.address, c.action) for c in plan.changes] == [(CAMP, Action.DELETE), (ADV, Action.DELETE)]
    assert all(c.reason == "destroy requested" for c in plan.changes)
    assert plan.options == {"destroy": True}

    protected = snapshot(resource(CAMP, "201", CAMP_SPEC, prevent_destroy=True))
    with pytest.raises(PlanError, match="prevent_destroy"):
        make_plan([], protected, {CAMP: lv[CAMP]}, destroy=True)
    # the manifest's current lifecycle is the latest intent: setting it false unlocks destroy
    unlocked = make_plan([desired(CAMP, CAMP_SPEC)], protected, {CAMP: lv[CAMP]}, destroy=True)
    assert unlocked.changes[0].action is Action.DELETE


def test_targets_limit_the_plan() -> None:
    state = snapshot(resource(ADV, "101", ADV_SPEC), resource(STRAT, "301", {"name": "p"}))
    plan = make_plan(
        [desired(ADV, {**ADV_SPEC, "name": "New"}), desired(CAMP, CAMP_SPEC)],
        state,
        {ADV: live(ADV, "101", ADV_SPEC)},  # STRAT is not refreshed: it is out of scope
        targets=[ADV, "mediamath.Campaign/nope"],
    )
    assert [(c.address, c.action) for c in plan.changes] == [(ADV, Action.UPDATE)]
    assert plan.targets == (ADV, "mediamath.Campaign/nope")
    assert plan.warnings == (
        "target mediamath.Campaign/nope matches no resource in the manifests or the state",
    )


def test_lifecycle_only_change_is_noop_with_reason() -> None:
    state = snapshot(resource(CAMP, "201", CAMP_SPEC))
    plan = make_plan(
        [desired(CAMP, CAMP_SPEC, prevent_destroy=True, on_delete=OnDelete.ABANDON)],
        state,
        {CAMP: live(CAMP, "201", CAMP_SPEC)},
    )
    (c,) = plan.changes
    assert c.action is Action.NOOP
    assert c.prevent_destroy and c.on_delete == "abandon"
    assert "prevent_destroy true" in c.reason and "on_delete abandon" in c.reason


def test_plan_drift_lists_out_of_band_changes() -> None:
    applied = {**CAMP_SPEC, "total_budget": 500}
    state = snapshot(resource(CAMP, "201", applied), resource(ADV, "101", ADV_SPEC))
    plan = make_plan(
        [desired(CAMP, applied), desired(ADV, ADV_SPEC)],
        state,
        {
            CAMP: live(CAMP, "201", {**applied, "total_budget": 650, "created_on": "y"}),
            ADV: live(ADV, "101", ADV_SPEC),
        },
    )
    (d,) = plan.drift
    assert d.address == CAMP and d.action is Action.UPDATE
    assert d.field_changes == (FieldChange("total_budget", 500.0, 650),)
    assert d.before is not None and d.after is not None
    assert d.before["total_budget"] == 500.0 and d.after["total_budget"] == 650
    assert by_address(plan)[CAMP].action is Action.UPDATE  # and the plan puts it back
    data = render_json(plan)
    assert data["resource_drift"][0]["change"]["actions"] == ["update"]
    assert "Objects changed outside reconciler" in render_text(plan)


def test_status_is_carried() -> None:
    addr = "liveramp.CleanroomPartner/agency"
    spec = {"cleanroom_id": "cr-1", "email": "a@b.c"}
    plan = make_plan(
        [desired(addr, spec)],
        snapshot(resource(addr, "p-1", spec)),
        {addr: live(addr, "p-1", spec, status="invited")},
    )
    assert plan.changes[0].status == "invited"
    assert render_json(plan)["resource_changes"][0]["status"] == "invited"


def test_output_is_deterministic() -> None:
    resources = [
        resource(f"mediamath.Strategy/s{i:02d}", str(i), {"name": f"s{i}", "b": i}) for i in range(30)
    ]
    live_objs = {r.address: live(r.address, r.remote_id, {"name": "changed", "b": 0}) for r in resources}
    keep = [desired(r.address, {"name": f"s{i}", "b": i, "z": [1, 2]}) for i, r in enumerate(resources[:15])]

    def build(seed: int) -> tuple[str, str]:
        rng = random.Random(seed)
        shuffled = resources[:]
        rng.shuffle(shuffled)
        items = list(live_objs.items())
        rng.shuffle(items)
        plan = make_plan(keep, snapshot(*shuffled), dict(items))
        return render_text(plan), json.dumps(render_json(plan))

    first = build(1)
    assert all(build(seed) == first for seed in (2, 3, 4))


def test_input_errors() -> None:
    with pytest.raises(PlanError, match="declared twice"):
        make_plan([desired(CAMP, CAMP_SPEC), desired(CAMP, CAMP_SPEC)])
    with pytest.raises(PlanError, match="no provider 'acme'"):
        make_plan([desired("acme.Thing/x", {})])
    with pytest.raises(PlanError, match="was not refreshed"):
        make_plan([desired(CAMP, CAMP_SPEC)], snapshot(resource(CAMP, "201", CAMP_SPEC)), {})


def test_fast_path_scalar_changes_do_not_call_deepdiff() -> None:
    differ = FieldDiffer()
    state = snapshot(resource(CAMP, "201", CAMP_SPEC))
    plan = make_plan(
        [desired(CAMP, {**CAMP_SPEC, "name": "Other", "total_budget": 900})],
        state,
        {CAMP: live(CAMP, "201", CAMP_SPEC)},
        differ=differ,
    )
    assert [fc.path for fc in plan.changes[0].field_changes] == ["name", "total_budget"]
    assert differ.deepdiff_calls == 0


def test_twenty_thousand_unchanged_resources_need_no_deepdiff() -> None:
    n = 20_000
    spec = {"name": "s", "bid": {"min": 1, "max": 5}, "geo": ["US", "CA"], "total_budget": "10.00"}
    server = {
        "name": "s",
        "bid": {"min": 1, "max": 5, "auto": True},
        "geo": ["US", "CA"],
        "total_budget": 10.0,
    }
    addrs = [f"mediamath.Strategy/s{i:05d}" for i in range(n)]
    state = snapshot(*(resource(a, str(i), spec) for i, a in enumerate(addrs)))
    lv = {a: live(a, str(i), server) for i, a in enumerate(addrs)}
    wanted = [desired(a, spec) for a in addrs]
    differ = FieldDiffer()
    plan = build_plan(
        PlanInput(desired=wanted, state=state, live=lv, found={}, providers=views(), differ=differ)
    )
    assert len(plan.changes) == n and not plan.has_changes and plan.drift == ()
    assert differ.deepdiff_calls == 0
    # and the counter is live: one nested change costs exactly one call
    lv[addrs[7]] = live(addrs[7], "7", {**server, "bid": {"min": 2, "max": 5}})
    plan = build_plan(
        PlanInput(desired=wanted, state=state, live=lv, found={}, providers=views(), differ=differ)
    )
    assert differ.deepdiff_calls == 2  # the update and its drift entry
    assert plan.counts() == {"no-op": n - 1, "update": 1}
    # schema-check a slice (validating 20,000 entries takes jsonschema ~20 s): the update and 100 no-ops
    check_plan_json(replace(plan, changes=plan.changes[:101]))
