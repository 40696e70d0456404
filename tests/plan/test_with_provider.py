"""The builder and drift against a real Provider implementation (the test ``memory`` provider).

Covers: ``ProviderView.of`` (kinds, normalize, precondition_for, manual_steps of a Provider);
objects created through the provider plan as no-ops (server defaults are not owned, money
strings normalise, refs resolve to the parent's remote id); out-of-band edits show as updates
with version preconditions and as Plan.drift; drift.classify attributes them from the
provider's own change history; an immutable field plans a replace; unknown kinds are a
PlanError; the plan JSON validates against the schema (via make_plan).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.attribution import when_text
from reconciler.drift import DriftStatus, classify, render_drift_text
from reconciler.errors import PlanError
from reconciler.model import LiveObject
from reconciler.plan.builder import ProviderView
from reconciler.plan.model import Action
from reconciler.providers.base import Precondition, PreconditionKind
from reconciler.state.base import ResourceState, StateSnapshot
from tests.plan.fixtures import desired, make_plan, ref
from tests.support.memory_provider import MemoryProvider

FOLDER = "memory.Folder/docs"
ITEM = "memory.Item/pen"
FOLDER_SPEC = {"name": "docs", "color": "red"}


@pytest.fixture()
def world(tmp_path: Path) -> dict[str, Any]:
    provider = MemoryProvider.at(tmp_path / "remote.json", history=True)
    folder = provider.create("Folder", FOLDER_SPEC)
    item_spec = {"name": "pen", "folder_id": folder.remote_id, "price": "12.50"}
    item = provider.create("Item", item_spec)
    state = StateSnapshot(
        "lin-m",
        2,
        {
            FOLDER: ResourceState(
                FOLDER, "memory", "Folder", folder.remote_id, FOLDER_SPEC, folder.fingerprint, 1
            ),
            ITEM: ResourceState(
                ITEM, "memory", "Item", item.remote_id, item_spec, item.fingerprint, 1, dependencies=(FOLDER,)
            ),
        },
    )
    return {"provider": provider, "state": state, "folder": folder, "item": item}


def refresh(provider: MemoryProvider, state: StateSnapshot) -> dict[str, LiveObject | None]:
    out: dict[str, LiveObject | None] = {}
    for address, rs in state.resources.items():
        out[address] = provider.read(rs.kind, [rs.remote_id]).get(rs.remote_id)
    return out


def wanted(price: Any = "12.50", color: str = "red", **folder_extra: Any) -> list[Any]:
    return [
        desired(FOLDER, {"name": "docs", "color": color, **folder_extra}),
        desired(ITEM, {"name": "pen", "folder_id": ref(FOLDER), "price": price}),
    ]


def test_created_objects_plan_as_noops(world: dict[str, Any]) -> None:
    provider, state = world["provider"], world["state"]
    plan = make_plan(
        wanted(), state, refresh(provider, state), providers={"memory": ProviderView.of(provider)}
    )
    assert [c.action for c in plan.changes] == [Action.NOOP, Action.NOOP]
    item = plan.changes[1]
    assert item.after is not None and item.after["folder_id"] == world["folder"].remote_id
    assert plan.drift == ()


def test_out_of_band_edit_is_update_and_drift_with_attribution(world: dict[str, Any]) -> None:
    provider, state = world["provider"], world["state"]
    provider.edit_out_of_band("Item", world["item"].remote_id, {"price": 15}, user="jdoe")
    lv = refresh(provider, state)
    plan = make_plan(wanted(), state, lv, providers={"memory": ProviderView.of(provider)})
    folder, item = plan.changes
    assert folder.action is Action.NOOP
    assert item.action is Action.UPDATE
    assert [(fc.path, fc.before, fc.after) for fc in item.field_changes] == [("price", 15.0, 12.5)]
    assert item.precondition == Precondition(PreconditionKind.VERSION, 2)
    assert [d.address for d in plan.drift] == [ITEM]

    report = classify(
        state,
        lv,
        lambda p, k, spec: provider.normalize(k, spec),
        ignore=lambda a: (),
        history=lambda p, k, rid: provider.history(k, rid),
    )
    (changed,) = [i for i in report.items if i.status is DriftStatus.CHANGED]
    assert changed.address == ITEM
    (field,) = changed.fields
    assert (field.path, field.applied, field.live, field.changed_by) == ("price", 12.5, 15.0, "jdoe")
    assert field.changed_at
    assert f"~ {ITEM}: price 12.5 -> 15 (changed by jdoe at {when_text(field.changed_at)})" in render_drift_text(report)


def test_immutable_field_plans_replace(world: dict[str, Any]) -> None:
    provider, state = world["provider"], world["state"]
    plan = make_plan(
        wanted(region="us"), state, refresh(provider, state), providers={"memory": ProviderView.of(provider)}
    )
    folder, item = plan.changes
    assert folder.action is Action.REPLACE and folder.replace_paths == ("region",)
    # the item's folder id is unknown until the folder is re-created
    assert item.action is Action.UPDATE
    assert [fc.path for fc in item.field_changes] == ["folder_id"]


def test_unknown_kind_is_a_plan_error(world: dict[str, Any]) -> None:
    with pytest.raises(PlanError, match="provider 'memory' has no kind 'Widget'"):
        make_plan([desired("memory.Widget/x", {})], providers={"memory": ProviderView.of(world["provider"])})
