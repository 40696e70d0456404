"""``apply FILE`` trusts a saved plan only as far as the state allows (issue 16.3).

Aspects covered, through the real CLI on the memory provider:
- a plan edited after ``plan --out`` (a remote id pointed at an unmanaged folder) is refused
  with exit 1 and a message naming the file; nothing is written, remotely or to the state;
- the same edit with the integrity hash recomputed (someone who knows the format) is refused by
  the check against the state: the address is managed as another remote id;
- a plan crafted to delete an object the state marks ``prevent_destroy`` (the plan's own flag
  turned off, the hash recomputed) is refused; so is one that updates or records a remote id the
  state never had under an address it does not manage;
- an untouched saved plan still applies.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from reconciler.plan.model import Action, Change
from reconciler.plan.planfile import integrity, load_plan, save_plan
from reconciler.state.local import LocalBackend
from tests.cli.conftest import Workspace
from tests.support.memory_provider import MemoryProvider


def remote(ws: Workspace) -> MemoryProvider:
    return MemoryProvider.at(ws.root / ".memory-remote.json")


def state(ws: Workspace) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ws.root / ".reconciler" / "state.json").read_text())
    return data


def unmanaged_folder(ws: Workspace) -> str:
    return remote(ws).create("Folder", {"name": "Finance (not ours)", "color": "red", "size": 1}).remote_id


def renamed_plan(ws: Workspace, tmp_path: Path) -> Path:
    """A saved plan that renames the managed folder ``docs``."""
    ws.write("manifests/main.yaml", (ws.root / "manifests/main.yaml").read_text().replace("name: Documents", "name: Docs"))
    out = tmp_path / "rename.plan"
    result = ws.run("plan", "--out", str(out))
    assert result.code == 0, result.text
    return out


def assert_nothing_applied(ws: Workspace, before_state: dict[str, Any], before_remote: list[Any]) -> None:
    assert state(ws) == before_state
    assert sorted((o.remote_id, o.fields["name"]) for o in remote(ws).objects("Folder")) == before_remote


def snapshot(ws: Workspace) -> tuple[dict[str, Any], list[Any]]:
    return state(ws), sorted((o.remote_id, o.fields["name"]) for o in remote(ws).objects("Folder"))


def test_an_edited_plan_is_refused_and_nothing_is_applied(ws: Workspace, tmp_path: Path) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    victim = unmanaged_folder(ws)
    plan_file = renamed_plan(ws, tmp_path)
    data = json.loads(plan_file.read_text())
    (change,) = [c for c in data["changes"] if c["address"] == "memory.Folder/docs"]
    change["remote_id"] = victim
    plan_file.write_text(json.dumps(data, indent=2))
    before = snapshot(ws)
    result = ws.run("apply", str(plan_file))
    assert result.code == 1, result.text
    assert result.err.startswith(f"Error: {plan_file}: the plan file was changed after 'reconciler plan --out' wrote it"), result.err
    assert "Traceback" not in result.text
    assert_nothing_applied(ws, *before)


def reseal(plan_file: Path, edit: Any) -> None:
    """Edit a saved plan and recompute its integrity hash, as someone who knows the format could."""
    data = json.loads(plan_file.read_text())
    edit(data)
    data.pop("integrity")
    plan_file.write_text(json.dumps({**data, "integrity": integrity(data)}))


def test_a_resealed_plan_pointing_at_another_object_is_refused(ws: Workspace, tmp_path: Path) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    victim = unmanaged_folder(ws)
    plan_file = renamed_plan(ws, tmp_path)
    managed = state(ws)["resources"]["memory.Folder/docs"]["remote_id"]

    def point_at_victim(data: dict[str, Any]) -> None:
        for change in data["changes"]:
            if change["address"] == "memory.Folder/docs":
                change["remote_id"] = victim

    reseal(plan_file, point_at_victim)
    before = snapshot(ws)
    result = ws.run("apply", str(plan_file))
    assert result.code == 1, result.text
    assert "the saved plan does not match the state it would be applied to; nothing was applied" in result.err
    assert (f"memory.Folder/docs (update): the plan points it at remote id {victim}, but the state manages it "
            f"as remote id {managed}") in result.err
    assert_nothing_applied(ws, *before)


def test_prevent_destroy_in_the_state_wins_over_the_plans_flag(ws: Workspace, tmp_path: Path) -> None:
    ws.write("manifests/main.yaml", (ws.root / "manifests/main.yaml").read_text().replace(
        "  name: memo\nspec:", "  name: memo\nlifecycle: {prevent_destroy: true}\nspec:"))
    assert ws.run("apply", "--auto-approve").code == 0
    assert state(ws)["resources"]["memory.Item/memo"]["prevent_destroy"] is True
    plan_file = tmp_path / "nothing.plan"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    memo = state(ws)["resources"]["memory.Item/memo"]
    crafted = load_plan(plan_file)
    delete = Change("memory.Item/memo", "memory", "Item", Action.DELETE, remote_id=memo["remote_id"],
                    before={"name": "Memo"}, reason="not in manifests", prevent_destroy=False)
    save_plan(dataclasses.replace(crafted, changes=(*crafted.changes, delete)), plan_file)  # properly sealed
    before = snapshot(ws)
    items = len(remote(ws).objects("Item"))
    result = ws.run("apply", str(plan_file))
    assert result.code == 1, result.text
    assert ("memory.Item/memo (delete): the state marks it lifecycle.prevent_destroy; a saved plan cannot delete "
            "or replace it") in result.err
    assert_nothing_applied(ws, *before)
    assert len(remote(ws).objects("Item")) == items


def test_a_plan_cannot_take_over_an_object_the_state_never_had(ws: Workspace, tmp_path: Path) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    victim = unmanaged_folder(ws)
    plan_file = tmp_path / "nothing.plan"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    crafted = load_plan(plan_file)
    takeover = Change("memory.Folder/finance", "memory", "Folder", Action.UPDATE, remote_id=victim,
                      before={"name": "Finance (not ours)"}, after={"name": "Gone"}, reason="crafted")
    save_plan(dataclasses.replace(crafted, changes=(*crafted.changes, takeover)), plan_file)
    before = snapshot(ws)
    result = ws.run("apply", str(plan_file))
    assert result.code == 1, result.text
    assert (f"memory.Folder/finance (update): the state does not manage it, so the plan cannot update remote id "
            f"{victim}") in result.err
    assert_nothing_applied(ws, *before)


def test_an_untouched_saved_plan_applies(ws: Workspace, tmp_path: Path) -> None:
    assert ws.run("apply", "--auto-approve").code == 0
    plan_file = renamed_plan(ws, tmp_path)
    result = ws.run("apply", str(plan_file))
    assert result.code == 0, result.text
    assert "Docs" in {o.fields["name"] for o in remote(ws).objects("Folder")}
    assert LocalBackend(ws.root / ".reconciler" / "state.json").read().serial > 0
