"""``reconciler export`` on the test ``memory`` provider (objects made "by hand" in its remote file).

Aspects covered:
- export then plan shows no changes (``--detailed-exitcode`` 0, every change a no-op), and drift
  finds nothing; the remote file is byte-for-byte untouched by export (no write, ever);
- one file per kind, multi-document, each document starting with the ``yaml-language-server``
  line; ``{ref: Folder/...}`` for parent ids; slug names de-duplicated deterministically;
  only user fields (nulls, empties dropped);
- the state holds one entry per exported object with its remote id, resolved applied spec,
  parent ids and dependencies;
- only the scope is walked (another folder and its items are left out);
- objects already managed are not exported again and references use their existing address;
  names never collide with addresses the manifests already declare;
- refusals: an existing file is never overwritten (and nothing is recorded), unknown scope
  word, missing object, no scope at all: exit 1 with a clear message; an output directory
  the workspace's ``paths`` do not read (the next plan would delete what export records);
- unit level: slugify, name assignment independent of input order, field selection
  (readOnly/default/empty), YAML quoting that survives the manifest loader (YAML 1.2 core).
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.export import (
    Scope,
    assign_names,
    render_document,
    resolve_scope,
    slugify,
    user_fields,
)
from reconciler.manifest.interpolate import interpolate_tree
from reconciler.manifest.yamlsource import load_documents
from reconciler.model import Address, LiveObject, Ref
from reconciler.providers.base import KindInfo, ProviderConfig
from reconciler.state.base import ResourceState
from tests.adopt.conftest import Workspace, changed
from tests.support.memory_provider import KINDS as MEMORY_KINDS
from tests.support.memory_provider import MemoryProvider

SCHEMA_PREFIX = "# yaml-language-server: $schema="


def make_estate(remote: MemoryProvider) -> dict[str, str]:
    """Two folders with items, made directly on the 'remote' (not through reconciler)."""
    docs = remote.create(
        "Folder", {"name": "Documents – Q3", "color": "red", "size": 3, "labels": {"team": "ads"}}
    )
    other = remote.create("Folder", {"name": "Other"})
    first = remote.create(
        "Item", {"name": "Report", "folder_id": docs.remote_id, "price": 12.5, "tags": ["fin"]}
    )
    second = remote.create("Item", {"name": "Report", "folder_id": docs.remote_id, "price": 3})
    memo = remote.create("Item", {"name": "yes", "folder_id": docs.remote_id, "price": 1, "tags": []})
    stray = remote.create("Item", {"name": "Stray", "folder_id": other.remote_id})
    return {
        "docs": docs.remote_id,
        "other": other.remote_id,
        "first": first.remote_id,
        "second": second.remote_id,
        "memo": memo.remote_id,
        "stray": stray.remote_id,
    }


def documents(path: Path) -> list[dict[str, object]]:
    return [d.value for d in load_documents(path.read_text(encoding="utf-8"), path.name) if d is not None]


def test_export_then_plan_shows_no_changes_and_nothing_is_written(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    ids = make_estate(remote)
    remote_before = (memory_ws.root / ".memory-remote.json").read_bytes()

    result = memory_ws.run(
        "export", "--provider", "memory", "--scope", f"Folder={ids['docs']}", "--out", "exported"
    )
    assert result.code == 0, result.text
    assert (memory_ws.root / ".memory-remote.json").read_bytes() == remote_before  # read-only remotely

    plan = memory_ws.run("plan", "--detailed-exitcode")
    assert plan.code == 0, plan.text
    assert "No changes" in plan.out
    data = memory_ws.plan_json()
    assert changed(data) == {}
    assert len(data["resource_changes"]) == 4 and data["resource_drift"] == []
    assert memory_ws.run("drift").code == 0
    assert (memory_ws.root / ".memory-remote.json").read_bytes() == remote_before


def test_export_writes_one_file_per_kind_with_refs_slugs_and_schema_lines(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    ids = make_estate(remote)
    memory_ws.ok("export", "--provider", "memory", "--scope", f"folder={ids['docs']}", "--out", "exported")
    out = memory_ws.root / "exported"
    assert sorted(p.name for p in out.iterdir()) == ["folder.yaml", "item.yaml"]

    for path in out.iterdir():
        chunks = path.read_text(encoding="utf-8").split("---\n")
        assert all(chunk.startswith(SCHEMA_PREFIX) for chunk in chunks), path
        target = chunks[0].splitlines()[0].removeprefix(SCHEMA_PREFIX)
        assert (path.parent / target).resolve().is_file(), target  # the schema path resolves

    folders = documents(out / "folder.yaml")
    assert folders == [
        {
            "apiVersion": "memory/v1",
            "kind": "Folder",
            "metadata": {"name": "documents-q3"},
            "spec": {
                "name": "Documents – Q3",
                "color": "red",
                "size": 3,
                "labels": {"team": "ads"},
                "region": "eu",
            },
        }
    ]
    items = {d["metadata"]["name"]: d["spec"] for d in documents(out / "item.yaml")}  # type: ignore[index]
    short = ids["second"]  # the second "Report" (higher id) gets the id suffix
    assert items == {
        "report": {
            "name": "Report",
            "folder_id": {"ref": "Folder/documents-q3"},
            "price": 12.5,
            "tags": ["fin"],
        },
        f"report-{short}": {"name": "Report", "folder_id": {"ref": "Folder/documents-q3"}, "price": 3.0},
        "yes": {
            "name": "yes",
            "folder_id": {"ref": "Folder/documents-q3"},
            "price": 1.0,
        },  # empty tags dropped
    }
    assert "name: 'yes'" in (out / "item.yaml").read_text()  # quoted: some YAML readers take yes for true


def test_export_records_state_for_every_object(memory_ws: Workspace, remote: MemoryProvider) -> None:
    ids = make_estate(remote)
    memory_ws.ok("export", "--provider", "memory", "--scope", f"Folder={ids['docs']}")
    snapshot = memory_ws.snapshot()
    assert sorted(snapshot.resources) == [
        "memory.Folder/documents-q3",
        "memory.Item/report",
        f"memory.Item/report-{ids['second']}",
        "memory.Item/yes",
    ]
    report = snapshot.resources["memory.Item/report"]
    assert report.remote_id == ids["first"]
    assert report.applied_spec == {"name": "Report", "folder_id": ids["docs"], "price": 12.5, "tags": ["fin"]}
    assert report.parent_ids == {"folder_id": ids["docs"]}
    assert report.dependencies == ("memory.Folder/documents-q3",)
    assert report.version == 1
    assert snapshot.resources["memory.Folder/documents-q3"].remote_id == ids["docs"]
    # the default --out is ./<provider>
    assert (memory_ws.root / "memory" / "item.yaml").is_file()


def test_export_walks_only_the_scope(memory_ws: Workspace, remote: MemoryProvider) -> None:
    ids = make_estate(remote)
    memory_ws.ok("export", "--provider", "memory", "--scope", f"Folder={ids['other']}")
    assert sorted(memory_ws.snapshot().resources) == ["memory.Folder/other", "memory.Item/stray"]
    assert ids["docs"] not in (memory_ws.root / "memory" / "folder.yaml").read_text()


def test_managed_objects_keep_their_address_and_names_avoid_declared_ones(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    ids = make_estate(remote)
    memory_ws.write(
        "manifests/docs.yaml",
        """\
        apiVersion: memory/v1
        kind: Folder
        metadata:
          name: docs
        spec:
          name: Documents – Q3
        ---
        apiVersion: memory/v1
        kind: Item
        metadata:
          name: report
        spec:
          name: A planned item, not applied yet
          folder_id: {ref: Folder/docs}
        """,
    )
    memory_ws.ok("import", "memory.Folder/docs", ids["docs"], "manifests/docs.yaml")
    result = memory_ws.ok(
        "export", "--provider", "memory", "--scope", f"Folder={ids['docs']}", "--out", "exported"
    )
    assert "memory.Folder/docs: already managed" in result.err
    assert not (memory_ws.root / "exported" / "folder.yaml").exists()
    items = {d["metadata"]["name"]: d["spec"] for d in documents(memory_ws.root / "exported" / "item.yaml")}  # type: ignore[index]
    assert "report" not in items  # the manifests declare memory.Item/report already
    assert {spec["folder_id"]["ref"] for spec in items.values()} == {"Folder/docs"}  # type: ignore[index]
    exported = {rs.remote_id for rs in memory_ws.snapshot().resources.values() if rs.kind == "Item"}
    assert exported == {ids["first"], ids["second"], ids["memo"]}


def test_export_never_overwrites_a_file_and_records_nothing_then(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    ids = make_estate(remote)
    existing = memory_ws.write("exported/item.yaml", "# mine\n")
    result = memory_ws.run(
        "export", "--provider", "memory", "--scope", f"Folder={ids['docs']}", "--out", "exported"
    )
    assert result.code == 1
    assert "item.yaml exists already" in result.err and "Traceback" not in result.text
    assert existing.read_text() == "# mine\n"
    assert not (memory_ws.root / "exported" / "folder.yaml").exists()
    assert memory_ws.snapshot().resources == {}


def test_bad_scopes_are_clear_errors(memory_ws: Workspace, remote: MemoryProvider) -> None:
    make_estate(remote)
    unknown = memory_ws.run("export", "--provider", "memory", "--scope", "Campaign=1")
    assert unknown.code == 1
    assert "provider 'memory' has no scope 'Campaign'" in unknown.err and "Folder, Item" in unknown.err
    missing = memory_ws.run("export", "--provider", "memory", "--scope", "Folder=folder-999")
    assert missing.code == 1 and "memory has no Folder with id folder-999" in missing.err
    none = memory_ws.run("export", "--provider", "memory")
    assert none.code == 1 and "export needs a scope" in none.err
    malformed = memory_ws.run("export", "--provider", "memory", "--scope", "Folder")
    assert malformed.code == 1 and "expected Kind=ID" in malformed.err
    assert memory_ws.snapshot().resources == {}


# -- unit level -----------------------------------------------------------------------------------
def test_slugify() -> None:
    assert slugify("Summer Sale – 2026!") == "summer-sale-2026"
    assert slugify("Café Crème / EU") == "cafe-creme-eu"
    assert slugify("***") == ""
    assert len(slugify("x" * 500)) == 80


def test_names_are_deterministic_whatever_the_input_order() -> None:
    objs = [
        LiveObject("Item", "item-10", {"name": "Report", "folder_id": "f"}),
        LiveObject("Item", "item-9", {"name": "Report", "folder_id": "f"}),
        LiveObject("Item", "item-11", {"name": "report", "folder_id": "f"}),
        LiveObject("Item", "item-12", {"name": "", "folder_id": "f"}),
    ]
    first = assign_names(objs, MEMORY_KINDS, {"Item": {"report-item-11"}})
    second = assign_names(list(reversed(objs)), MEMORY_KINDS, {"Item": {"report-item-11"}})
    assert first == second
    assert first[("Item", "item-9")] == "report"  # the lowest id keeps the bare slug
    assert first[("Item", "item-10")] == "report-item-10"
    assert first[("Item", "item-11")] == "report-item-11-2"  # 'report-item-11' was taken
    assert first[("Item", "item-12")] == "item-item-12"  # nameless: kind and id


def test_user_fields_keeps_what_a_user_would_write() -> None:
    schema = {
        "type": "object",
        "required": ["name", "members"],
        "properties": {
            "name": {"type": "string"},
            "members": {"type": "array"},
            "created_at": {"type": "string", "readOnly": True},
            "mode": {"$ref": "#/$defs/mode"},
            "note": {"type": "string"},
            "tags": {"type": "array"},
            "size": {"type": "integer"},
        },
        "$defs": {"mode": {"enum": ["auto", "manual"], "default": "auto"}},
    }
    info = KindInfo(name="Thing", schema=schema)
    live = LiveObject(
        "Thing",
        "1",
        {
            "size": 0,
            "name": "n",
            "members": [],
            "created_at": "2024",
            "mode": "auto",
            "note": "",
            "tags": [],
            "x": 1,
        },
    )
    assert user_fields(info, live) == {"name": "n", "members": [], "size": 0}
    assert list(user_fields(info, LiveObject("Thing", "1", {"size": 1, "name": "n", "mode": "manual"}))) == [
        "name",
        "mode",
        "size",
    ]


def test_a_live_name_that_reads_like_interpolation_is_exported_as_text(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    """Issue 16.1: someone with console access names an object ``${env:SECRET}``; the export
    must load back as that text, never as the secret (which would then be planned and applied)."""
    folder = remote.create("Folder", {"name": "Partner"})
    remote.create("Item", {"name": "${env:RECONCILER_EXPORT_SECRET}", "folder_id": folder.remote_id, "price": 2})
    memory_ws.env = {**memory_ws.env, "RECONCILER_EXPORT_SECRET": "hunter2-export-secret"}
    result = memory_ws.run("export", "--provider", "memory", "--scope", f"Folder={folder.remote_id}", "--out", "exported")
    assert result.code == 0, result.text
    written = "".join(p.read_text() for p in sorted((memory_ws.root / "exported").glob("*.yaml")))
    assert "name: $${env:RECONCILER_EXPORT_SECRET}" in written
    plan = memory_ws.run("plan", "--detailed-exitcode", "--format", "json")
    assert plan.code == 0, plan.text
    assert "hunter2" not in plan.text
    assert "hunter2" not in (memory_ws.root / ".reconciler" / "state.json").read_text()


def test_written_yaml_reads_back_as_written() -> None:
    tricky = [
        "0o17",
        "1e3",
        "yes",
        "~",
        "null",
        "2024-01-01",
        "09:30",
        "0123",
        "a: b",
        "- x",
        "line\nbreak",
        "#",
        "",
        "${env:HOME}",
        "a $${x} b ${var:y}",
        "$$",
    ]
    spec = {f"f{i}": value for i, value in enumerate(tricky)}
    spec["parent"] = Ref(Address("memory", "Folder", "docs"))  # type: ignore[assignment]
    state = ResourceState("memory.Item/x", "memory", "Item", "item-1", {}, "fp")
    from reconciler.export import ExportedResource

    text = render_document(ExportedResource(Address("memory", "Item", "x"), spec, state), "schema.json")
    (doc,) = [d for d in load_documents(text, "x.yaml") if d is not None]
    loaded = interpolate_tree(doc.value["spec"], env={"HOME": "/root"}, variables={"y": 1}, locate=doc.location)
    assert loaded == {
        **{f"f{i}": value for i, value in enumerate(tricky)},
        "parent": {"ref": "Folder/docs"},
    }


def test_scope_words_resolve_to_kinds_or_parent_fields() -> None:
    provider = MemoryProvider(
        ProviderConfig(name="memory", endpoint="memory://local", options={"data_file": "/nonexistent"})
    )
    assert resolve_scope(provider, Scope("folder", "f1")).kind == "Folder"
    assert resolve_scope(provider, Scope("ITEM", "i1")).kind == "Item"
    root = resolve_scope(provider, Scope("folder_id", "f1"))
    assert root.kind == "Folder"  # a kind wins over the parent field of the same name
    assert Scope.parse(" Folder = f-1 ") == Scope("Folder", "f-1")
    assert json.dumps(str(Scope("a", "b"))) == '"a=b"'


def test_export_refuses_a_directory_the_workspace_does_not_read(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    ids = make_estate(remote)
    memory_ws.write(
        "reconciler.yaml", (memory_ws.root / "reconciler.yaml").read_text() + "paths: [manifests/]\n"
    )
    (memory_ws.root / "manifests").mkdir()
    for out in ("elsewhere", "manifests/.hidden"):
        result = memory_ws.run(
            "export", "--provider", "memory", "--scope", f"Folder={ids['other']}", "--out", out
        )
        assert result.code == 1 and "the workspace does not read manifests there" in result.err
        assert not (memory_ws.root / out).exists()
    assert memory_ws.snapshot().resources == {}
    memory_ws.ok("export", "--provider", "memory", "--scope", f"Folder={ids['docs']}", "--out", "manifests/x")
    assert memory_ws.run("plan", "--detailed-exitcode").code == 0
