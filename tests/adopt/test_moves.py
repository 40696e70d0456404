"""Renaming managed addresses: ``reconciler state mv OLD NEW`` and ``kind: Moved`` documents.

Aspects covered (memory provider; "keeps the live object" = same remote id, same version, no
create/update/delete request, and the plan holds no create and no delete):
- ``state mv`` after renaming a manifest: the plan is empty; the renamed folder keeps its remote
  id and the items' recorded dependencies follow the rename;
- ``state mv`` refusals: NEW not declared (unless ``--force``), another kind, OLD not in state,
  NEW already managed; an interrupted rename (both entries, same id) is finished by ``state mv``;
- ``Moved`` documents: the plan moves in memory (no-op at the new address, reason ``moved from``,
  a ``has moved to`` message in text, JSON and Markdown), writes nothing (state untouched by plan);
  with a field change too, apply updates in place and renames the state entry; a move-only saved
  plan applied by ``apply FILE`` renames the entry and applying it twice is refused as stale;
- chains ``a -> b -> c``; a target already managed under another id is ignored with a warning;
  an interrupted rename (both entries with the same id) plans no delete and apply finishes it;
- bad ``Moved`` documents fail ``validate`` with file, line and field: wrong shape, not an
  address, another kind, a cycle, two moves of one address.
"""

from __future__ import annotations

import dataclasses
import json

from jsonschema import Draft202012Validator

from tests.adopt.conftest import REPO, Workspace, actions
from tests.support.memory_provider import MemoryProvider

PLAN_SCHEMA = json.loads((REPO / "schemas" / "plan.schema.json").read_text())

FOLDER = """\
apiVersion: memory/v1
kind: Folder
metadata:
  name: {name}
spec:
  name: Documents
  color: {color}
---
apiVersion: memory/v1
kind: Item
metadata:
  name: report
spec:
  name: Report
  folder_id: {{ref: Folder/{name}}}
  price: 2
"""

MOVED = """\
# yaml-language-server: $schema=../schemas/moved.schema.json
apiVersion: reconciler/v1
kind: Moved
metadata:
  name: rename-docs
spec:
  from: {source}
  to: {target}
"""


def applied(ws: Workspace, name: str = "docs", color: str = "red") -> None:
    ws.write("main.yaml", FOLDER.format(name=name, color=color))
    ws.ok("apply", "--auto-approve")


def rename(ws: Workspace, name: str, color: str = "red") -> None:
    ws.write("main.yaml", FOLDER.format(name=name, color=color))


def remote_state(remote: MemoryProvider) -> list[tuple[str, str, int | None]]:
    return [(o.kind, o.remote_id, o.version) for kind in ("Folder", "Item") for o in remote.objects(kind)]


def no_create_or_delete(plan: dict[str, object]) -> None:
    Draft202012Validator(PLAN_SCHEMA).validate(plan)
    for change in plan["resource_changes"]:  # type: ignore[union-attr]
        assert change["reconciler_action"] not in ("create", "delete", "replace"), change  # type: ignore[index]


# -- state mv -----------------------------------------------------------------------------------
def test_state_mv_keeps_the_live_object(memory_ws: Workspace, remote: MemoryProvider) -> None:
    applied(memory_ws)
    folder_id = memory_ws.snapshot().resources["memory.Folder/docs"].remote_id
    live_before = remote_state(remote)
    rename(memory_ws, "documents")
    assert actions(memory_ws.plan_json())["memory.Folder/docs"] == "delete"  # what mv avoids

    result = memory_ws.ok("state", "mv", "memory.Folder/docs", "memory.Folder/documents")
    assert f"Moved memory.Folder/docs to memory.Folder/documents (remote id {folder_id})" in result.out

    snapshot = memory_ws.snapshot()
    assert "memory.Folder/docs" not in snapshot.resources
    assert snapshot.resources["memory.Folder/documents"].remote_id == folder_id
    assert snapshot.resources["memory.Item/report"].dependencies == ("memory.Folder/documents",)
    assert memory_ws.run("plan", "--detailed-exitcode").code == 0
    plan = memory_ws.plan_json()
    no_create_or_delete(plan)
    assert set(actions(plan).values()) == {"no-op"}
    assert remote_state(remote) == live_before


def test_state_mv_refusals(memory_ws: Workspace) -> None:
    applied(memory_ws)
    before = memory_ws.snapshot()
    undeclared = memory_ws.run("state", "mv", "memory.Folder/docs", "memory.Folder/elsewhere")
    assert (
        undeclared.code == 1
        and "not declared in the manifests" in undeclared.err
        and "--force" in undeclared.err
    )
    other_kind = memory_ws.run("state", "mv", "memory.Folder/docs", "memory.Item/docs")
    assert other_kind.code == 1 and "keeps the provider and kind" in other_kind.err
    missing = memory_ws.run("state", "mv", "memory.Folder/nope", "memory.Folder/docs")
    assert missing.code == 1 and "memory.Folder/nope is not in the state" in missing.err
    taken = memory_ws.run("state", "mv", "memory.Item/report", "memory.Item/report", "--force")
    assert taken.code == 1 and "same address" in taken.err
    bad = memory_ws.run("state", "mv", "Folder/docs", "memory.Folder/x")
    assert bad.code == 1 and "OLD: 'Folder/docs' is not an address" in bad.err
    assert memory_ws.snapshot() == before

    forced = memory_ws.run("state", "mv", "memory.Folder/docs", "memory.Folder/elsewhere", "--force")
    assert forced.code == 0, forced.text
    assert (
        memory_ws.snapshot().resources["memory.Folder/elsewhere"].remote_id
        == before.resources["memory.Folder/docs"].remote_id
    )


def test_state_mv_refuses_a_target_managed_under_another_id(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    applied(memory_ws)
    backend = memory_ws.backend()
    item = backend.read().resources["memory.Item/report"]
    backend.record(dataclasses.replace(item, address="memory.Item/other", remote_id="item-999"))
    result = memory_ws.run("state", "mv", "memory.Item/report", "memory.Item/other", "--force")
    assert result.code == 1 and "memory.Item/other is already managed (remote id item-999)" in result.err


def test_state_mv_finishes_an_interrupted_rename(memory_ws: Workspace) -> None:
    applied(memory_ws)
    backend = memory_ws.backend()
    old = backend.read().resources["memory.Folder/docs"]
    backend.record(dataclasses.replace(old, address="memory.Folder/documents"))  # crashed before forgetting
    rename(memory_ws, "documents")
    memory_ws.ok("state", "mv", "memory.Folder/docs", "memory.Folder/documents")
    assert sorted(memory_ws.snapshot().resources) == ["memory.Folder/documents", "memory.Item/report"]


# -- Moved documents ---------------------------------------------------------------------------------
def test_moved_document_plans_no_create_or_delete_and_writes_nothing(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    applied(memory_ws)
    folder_id = memory_ws.snapshot().resources["memory.Folder/docs"].remote_id
    rename(memory_ws, "documents")
    memory_ws.write("moved.yaml", MOVED.format(source="memory.Folder/docs", target="memory.Folder/documents"))
    state_before = (memory_ws.root / ".reconciler" / "state.json").read_bytes()
    live_before = remote_state(remote)

    plan = memory_ws.plan_json()
    no_create_or_delete(plan)
    (folder,) = [c for c in plan["resource_changes"] if c["address"] == "memory.Folder/documents"]
    assert folder["reconciler_action"] == "no-op" and folder["remote_id"] == folder_id
    assert folder["reason"].startswith("moved from memory.Folder/docs")
    message = f"memory.Folder/docs has moved to memory.Folder/documents (remote id {folder_id}"
    assert any(w.startswith(message) for w in plan["warnings"])
    assert plan["lineage"] == memory_ws.snapshot().lineage

    text = memory_ws.run("plan")
    assert message in text.err
    assert "will be created" not in text.out and "will be DELETED" not in text.out
    markdown = memory_ws.ok("plan", "--format", "markdown").out
    assert "has moved to memory.Folder/documents" in markdown
    assert memory_ws.ok("validate").out.startswith("Valid: 2 resources")

    assert (memory_ws.root / ".reconciler" / "state.json").read_bytes() == state_before  # plan is pure
    assert remote_state(remote) == live_before


def test_moved_with_a_field_change_updates_in_place_and_renames_the_state(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    applied(memory_ws)
    folder_id = memory_ws.snapshot().resources["memory.Folder/docs"].remote_id
    rename(memory_ws, "documents", color="green")
    memory_ws.write("moved.yaml", MOVED.format(source="memory.Folder/docs", target="memory.Folder/documents"))
    plan = memory_ws.plan_json()
    no_create_or_delete(plan)
    assert actions(plan)["memory.Folder/documents"] == "update"

    memory_ws.ok("apply", "--auto-approve")
    snapshot = memory_ws.snapshot()
    assert sorted(snapshot.resources) == ["memory.Folder/documents", "memory.Item/report"]
    assert snapshot.resources["memory.Folder/documents"].remote_id == folder_id
    assert snapshot.resources["memory.Item/report"].dependencies == ("memory.Folder/documents",)
    (folder,) = remote.objects("Folder")
    assert folder.remote_id == folder_id and folder.fields["color"] == "green" and folder.version == 2
    assert len(remote.objects("Item")) == 1

    after = memory_ws.plan_json()
    assert set(actions(after).values()) == {"no-op"} and not any("moved" in w for w in after["warnings"])


def test_saved_plan_with_a_move_renames_on_apply_and_is_then_stale(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    applied(memory_ws)
    folder_id = memory_ws.snapshot().resources["memory.Folder/docs"].remote_id
    live_before = remote_state(remote)
    rename(memory_ws, "documents")
    memory_ws.write("moved.yaml", MOVED.format(source="memory.Folder/docs", target="memory.Folder/documents"))
    saved = memory_ws.root / "move.plan"
    memory_ws.ok("plan", "--out", str(saved))

    memory_ws.ok("apply", str(saved))
    snapshot = memory_ws.snapshot()
    assert snapshot.resources["memory.Folder/documents"].remote_id == folder_id
    assert "memory.Folder/docs" not in snapshot.resources
    assert remote_state(remote) == live_before

    again = memory_ws.run("apply", str(saved))
    assert again.code == 3 and "stale plan" in again.err


def test_chained_moves_end_at_the_last_address(memory_ws: Workspace) -> None:
    applied(memory_ws)
    folder_id = memory_ws.snapshot().resources["memory.Folder/docs"].remote_id
    rename(memory_ws, "archive")
    memory_ws.write(
        "moved.yaml",
        MOVED.format(source="memory.Folder/docs", target="memory.Folder/documents")
        + "---\n"
        + MOVED.format(source="memory.Folder/documents", target="memory.Folder/archive").replace(
            "rename-docs", "again"
        ),
    )
    plan = memory_ws.plan_json()
    no_create_or_delete(plan)
    (folder,) = [c for c in plan["resource_changes"] if c["address"] == "memory.Folder/archive"]
    assert folder["remote_id"] == folder_id and folder["reason"].startswith("moved from memory.Folder/docs")


def test_move_onto_an_address_managed_under_another_id_is_ignored_with_a_warning(
    memory_ws: Workspace,
) -> None:
    applied(memory_ws)
    memory_ws.write(
        "more.yaml", "apiVersion: memory/v1\nkind: Folder\nmetadata: {name: second}\nspec: {name: Second}\n"
    )
    memory_ws.ok("apply", "--auto-approve")
    memory_ws.write("moved.yaml", MOVED.format(source="memory.Folder/docs", target="memory.Folder/second"))
    plan = memory_ws.plan_json()
    (warning,) = [w for w in plan["warnings"] if "is ignored" in w]
    assert warning.startswith("moved.yaml:7: the move memory.Folder/docs -> memory.Folder/second is ignored")
    assert set(actions(plan).values()) == {"no-op"}


def test_interrupted_rename_plans_no_delete_and_apply_finishes_it(memory_ws: Workspace) -> None:
    applied(memory_ws)
    backend = memory_ws.backend()
    old = backend.read().resources["memory.Folder/docs"]
    backend.record(dataclasses.replace(old, address="memory.Folder/documents"))  # crash between two writes
    rename(memory_ws, "documents", color="blue")
    memory_ws.write("moved.yaml", MOVED.format(source="memory.Folder/docs", target="memory.Folder/documents"))
    plan = memory_ws.plan_json()
    no_create_or_delete(plan)
    assert "memory.Folder/docs" not in actions(plan)
    memory_ws.ok("apply", "--auto-approve")
    assert sorted(memory_ws.snapshot().resources) == ["memory.Folder/documents", "memory.Item/report"]


def test_bad_moved_documents_fail_validation_with_file_and_line(memory_ws: Workspace) -> None:
    rename(memory_ws, "docs")
    cases = {
        "spec:\n  from: memory.Folder/a\n": "moved.yaml:4: spec: 'to' is a required property",
        "spec:\n  from: Folder/a\n  to: memory.Folder/b\n": "moved.yaml:5: spec.from: 'Folder/a' is not an address",
        "spec:\n  from: memory.Folder/a\n  to: memory.Item/a\n": "moved.yaml:6: spec.to: a move keeps the provider and kind",
        "spec:\n  from: memory.Folder/a\n  to: memory.Folder/a\n": "moved.yaml:6: spec.to: 'from' and 'to' are the same address",
        "spec:\n  from: memory.Folder/a\n  to: memory.Folder/b\n---\napiVersion: reconciler/v1\nkind: Moved\n"
        "spec:\n  from: memory.Folder/b\n  to: memory.Folder/a\n": "moves form a cycle: memory.Folder/a -> memory.Folder/b -> memory.Folder/a",
        "spec:\n  from: memory.Folder/a\n  to: memory.Folder/b\n---\napiVersion: reconciler/v1\nkind: Moved\n"
        "spec:\n  from: memory.Folder/a\n  to: memory.Folder/c\n": "memory.Folder/a is moved twice (also at moved.yaml:5)",
    }
    for body, expected in cases.items():
        memory_ws.write("moved.yaml", "apiVersion: reconciler/v1\nkind: Moved\n# a comment\n" + body)
        result = memory_ws.run("validate")
        assert result.code == 1, body
        assert expected in result.err, (body, result.err)
        assert "Traceback" not in result.text
    memory_ws.write("moved.yaml", "apiVersion: reconciler/v1\nkind: Workspace\n")
    stray = memory_ws.run("validate")
    assert stray.code == 1 and "moved.yaml:2: kind: kind 'Workspace' is not a manifest kind" in stray.err


def test_drift_names_objects_as_the_moved_documents_do(memory_ws: Workspace, remote: MemoryProvider) -> None:
    """A ``Moved`` document not applied yet: drift reports the object at its new address, with
    the renamed manifest's ``ignore_changes`` applied (not as drift of the old address)."""
    applied(memory_ws)
    folder_id = memory_ws.snapshot().resources["memory.Folder/docs"].remote_id
    folder_ignores_color = FOLDER.replace("  color: {color}\n", "  color: {color}\nlifecycle:\n  ignore_changes: [color]\n")
    memory_ws.write("main.yaml", folder_ignores_color.format(name="documents", color="red"))
    memory_ws.write("moved.yaml", MOVED.format(source="memory.Folder/docs", target="memory.Folder/documents"))
    remote.edit_out_of_band("Folder", folder_id, {"color": "blue"})

    quiet = memory_ws.run("drift", "--format", "json")
    assert quiet.code == 0, quiet.out + quiet.err
    items = {i["address"]: i for i in json.loads(quiet.out)["items"]}
    assert items["memory.Folder/documents"]["status"] == "in-sync" and "memory.Folder/docs" not in items

    remote.edit_out_of_band("Folder", folder_id, {"name": "Docs, renamed by hand"})  # not ignored
    loud = memory_ws.run("drift", "--format", "json")
    assert loud.code == 2
    changed = {i["address"]: [f["path"] for f in i["fields"]] for i in json.loads(loud.out)["items"] if i["fields"]}
    assert changed == {"memory.Folder/documents": ["name"]}
    assert "memory.Folder/docs" in memory_ws.snapshot().resources  # drift renamed nothing on disk
