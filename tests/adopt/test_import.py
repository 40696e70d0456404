"""``reconciler import ADDRESS REMOTE_ID``: adopt one live object; the next plan shows exactly the
fields where the manifest and the live object differ, nothing else, and never a create.

Aspects covered:
- memory provider: a folder made by hand, a manifest differing in one field and agreeing on
  others (and silent on server-set ones): the plan is one update with exactly that field; the
  import writes nothing remotely; after apply the plan is empty; an item whose folder is a
  reference imports the same way;
- MediaMath (sandbox): a seeded campaign imported under a manifest changing its budget and
  name: the plan updates exactly those two fields, with the version precondition;
- mediarithmics (sandbox, observe-only): a documented clean room imported under a manifest
  with other purposes: the plan's only field change is ``members`` (a manual step);
- refusals: an address the manifests do not declare, an id that does not exist, an address
  already managed, an id already managed under another address (exit 1, clear message, state
  untouched).
"""

from __future__ import annotations

import json

from reconciler.diff import top_field
from reconciler.sandbox import SandboxServer
from tests.adopt.conftest import Workspace, seed, writes
from tests.support.memory_provider import MemoryProvider


def field_paths(plan: dict[str, object], address: str) -> list[str]:
    """The top-level fields a change touches (field changes may be deeper: ``tags.1``)."""
    (change,) = [c for c in plan["resource_changes"] if c["address"] == address]  # type: ignore[union-attr,index]
    return sorted({top_field(fc["path"]) for fc in change["field_changes"]})


def test_memory_import_then_plan_shows_exactly_the_differing_fields(
    memory_ws: Workspace, remote: MemoryProvider
) -> None:
    folder = remote.create("Folder", {"name": "Docs", "color": "red", "size": 3, "labels": {"team": "ads"}})
    item = remote.create(
        "Item", {"name": "Report", "folder_id": folder.remote_id, "price": 12.5, "tags": ["a"]}
    )
    memory_ws.write(
        "main.yaml",
        """\
        apiVersion: memory/v1
        kind: Folder
        metadata:
          name: docs
        spec:
          name: Docs
          color: blue        # differs (red live)
          size: 3            # same; labels and region not written: not compared
        ---
        apiVersion: memory/v1
        kind: Item
        metadata:
          name: report
        spec:
          name: Report
          folder_id: {ref: Folder/docs}
          price: 12.50       # same once normalised
          tags: [a, b]       # differs
        """,
    )
    remote_before = (memory_ws.root / ".memory-remote.json").read_bytes()
    result = memory_ws.ok("import", "memory.Folder/docs", folder.remote_id)
    assert f"Imported memory.Folder/docs (remote id {folder.remote_id})" in result.out
    memory_ws.ok("import", "memory.Item/report", item.remote_id)
    assert (memory_ws.root / ".memory-remote.json").read_bytes() == remote_before

    plan = memory_ws.plan_json()
    assert {c["address"]: c["reconciler_action"] for c in plan["resource_changes"]} == {
        "memory.Folder/docs": "update",
        "memory.Item/report": "update",
    }
    assert field_paths(plan, "memory.Folder/docs") == ["color"]
    assert field_paths(plan, "memory.Item/report") == ["tags"]
    text = memory_ws.run("plan", "--detailed-exitcode")
    assert text.code == 2
    assert '~ color = "red" -> "blue"' in text.out and "size" not in text.out and "region" not in text.out

    memory_ws.ok("apply", "--auto-approve")
    assert memory_ws.run("plan", "--detailed-exitcode").code == 0
    (live_folder,) = remote.objects("Folder")  # nothing created
    assert live_folder.remote_id == folder.remote_id and live_folder.fields["color"] == "blue"
    assert [i.remote_id for i in remote.objects("Item")] == [item.remote_id]


def test_import_refusals(memory_ws: Workspace, remote: MemoryProvider) -> None:
    folder = remote.create("Folder", {"name": "Docs"})
    memory_ws.write(
        "main.yaml", "apiVersion: memory/v1\nkind: Folder\nmetadata: {name: docs}\nspec: {name: Docs}\n"
    )
    undeclared = memory_ws.run("import", "memory.Folder/nope", folder.remote_id)
    assert undeclared.code == 1 and "not declared in the manifests" in undeclared.err
    missing = memory_ws.run("import", "memory.Folder/docs", "folder-404")
    assert missing.code == 1 and "no Folder with id folder-404" in missing.err
    memory_ws.ok("import", "memory.Folder/docs", folder.remote_id)
    twice = memory_ws.run("import", "memory.Folder/docs", folder.remote_id)
    assert twice.code == 1 and "already managed" in twice.err
    # the same live object under a second address: they would overwrite each other on every apply
    memory_ws.write(
        "other.yaml", "apiVersion: memory/v1\nkind: Folder\nmetadata: {name: other}\nspec: {name: Other}\n"
    )
    typo = memory_ws.run("import", "memory.Folder/other", folder.remote_id)
    assert typo.code == 1, typo.text
    assert f"Folder {folder.remote_id} is already managed as memory.Folder/docs" in typo.err
    assert list(memory_ws.snapshot().resources) == ["memory.Folder/docs"]


def test_mediamath_import_then_plan_shows_exactly_the_differing_fields(
    sandbox: SandboxServer, sandbox_ws: Workspace
) -> None:
    created = seed(sandbox, "mediamath", "estate", {"campaigns": 1})["created"]
    campaign, advertiser = created["campaigns"][0], created["advertisers"][0]
    sandbox_ws.write(
        "campaign.yaml",
        f"""\
        apiVersion: mediamath/v1
        kind: Campaign
        metadata:
          name: summer
        spec:
          advertiser_id: "{advertiser}"
          name: Summer Sale 2026        # differs
          total_budget: 250000          # differs
          ad_server_id: 9
          service_type: SELF
          currency_code: USD
          zone_name: Etc/GMT
          start_date: "2025-01-01T00:00:00Z"
          end_date: "2028-01-01T00:00:00Z"
          goal_type: cpc
          goal_value: 1
          use_mm_freq: false
        """,
    )
    sandbox_ws.ok("import", "mediamath.Campaign/summer", str(campaign))
    plan = sandbox_ws.plan_json()
    assert [c["reconciler_action"] for c in plan["resource_changes"]] == ["update"]
    assert field_paths(plan, "mediamath.Campaign/summer") == ["name", "total_budget"]
    assert plan["preconditions"]["mediamath.Campaign/summer"]["kind"] == "version"
    assert writes(sandbox) == {}


def test_mediarithmics_import_then_plan_shows_exactly_the_differing_fields(
    sandbox: SandboxServer, sandbox_ws: Workspace
) -> None:
    seed(sandbox, "mediarithmics", "docs")
    sandbox_ws.write(
        "room.yaml",
        """\
        apiVersion: mediarithmics/v1
        kind: CleanRoom
        metadata:
          name: activation
        spec:
          name: Activation Clean room
          organisation_id: "1863"
          members:
            - {organisation_id: "1863", purposes: [ACTIVATION]}
            - {organisation_id: "1752", purposes: [INSIGHTS, ACTIVATION]}
        """,
    )
    sandbox_ws.ok("import", "mediarithmics.CleanRoom/activation", "22")
    plan = sandbox_ws.plan_json()
    assert field_paths(plan, "mediarithmics.CleanRoom/activation") == ["members"]
    (change,) = plan["resource_changes"]
    assert change["reconciler_action"] == "manual"  # observe-only: the console step is listed
    assert "INSIGHTS" in json.dumps(change["field_changes"])
    assert writes(sandbox) == {}
