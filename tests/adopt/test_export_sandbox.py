"""``reconciler export`` against the sandbox's emulators over real HTTP on 127.0.0.1.

Aspects covered (for each provider: export, then ``plan --detailed-exitcode`` is 0 with every
change a no-op, and the sandbox saw no write request from export or plan, logins aside):
- MediaMath: objects seeded directly in the emulator (an estate: agency, advertisers, campaigns,
  strategies, budget flights) exported by ``--advertiser``, ``--agency`` and ``--campaign``;
  parent ids become references, ids outside the scope stay literal; drift finds nothing;
- LiveRamp: a clean room of the emulator's ``estate`` seed (datasets, invitation, clean-room
  questions, schedules) by ``--cleanroom``; and a clean room with dataset, partner invitation,
  users, question assignment and schedule created in one workspace, exported into another;
  nameless objects are named after what they point at (a dataset after its data connection);
- mediarithmics: the documented clean rooms (``docs`` seed) by ``--organisation`` and
  ``--cleanroom``; without a reconciler.yaml, export writes one (endpoint, ``${env:...}``
  credentials, organisation) and the next plan is empty; a failed export removes it again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest.yamlsource import load_documents
from reconciler.sandbox import SandboxServer
from tests.adopt.conftest import (
    SANDBOX_ENV,
    Workspace,
    applied_liveramp_example,
    changed,
    sandbox_workspace,
    seed,
    writes,
)

ESTATE = {"agencies": 1, "advertisers": 2, "campaigns": 3, "strategies": 5, "budget_flights": 3}


def specs(path: Path) -> dict[str, dict[str, object]]:
    docs = [d.value for d in load_documents(path.read_text(encoding="utf-8"), path.name) if d is not None]
    return {d["metadata"]["name"]: d["spec"] for d in docs}


def assert_plan_is_empty(ws: Workspace, expected: int) -> None:
    result = ws.run("plan", "--detailed-exitcode")
    assert result.code == 0, result.text
    data = ws.plan_json()
    assert changed(data) == {}, data["resource_changes"]
    assert len(data["resource_changes"]) == expected


@pytest.mark.parametrize(
    ("option", "collection", "kinds"),
    [
        ("--advertiser", "advertisers", {"Advertiser": 1, "Campaign": 2, "Strategy": 3, "BudgetFlight": 2}),
        (
            "--agency",
            "agencies",
            {"Agency": 1, "Advertiser": 2, "Campaign": 3, "Strategy": 5, "BudgetFlight": 3},
        ),
        ("--campaign", "campaigns", {"Campaign": 1, "Strategy": 2, "BudgetFlight": 1}),
    ],
)
def test_mediamath_export_then_plan_is_empty(
    sandbox: SandboxServer, sandbox_ws: Workspace, option: str, collection: str, kinds: dict[str, int]
) -> None:
    created = seed(sandbox, "mediamath", "estate", ESTATE)["created"]
    scope_id = str(created[collection][0])
    before = writes(sandbox)
    result = sandbox_ws.run("export", "--provider", "mediamath", option, scope_id)
    assert result.code == 0, result.text
    counts: dict[str, int] = {}
    for rs in sandbox_ws.snapshot().resources.values():
        counts[rs.kind] = counts.get(rs.kind, 0) + 1
    assert counts == kinds
    assert_plan_is_empty(sandbox_ws, sum(kinds.values()))
    assert sandbox_ws.run("drift").code == 0
    assert writes(sandbox) == before  # export, plan and drift only read

    out = sandbox_ws.root / "mediamath"
    campaigns = specs(out / "campaign.yaml")
    first = campaigns["estate-campaign-1"]
    assert first["name"] == "Estate Campaign 1"
    if option == "--campaign":
        assert first["advertiser_id"] == created["advertisers"][0]  # outside the scope: a literal integer
    else:
        assert first["advertiser_id"] == {"ref": "Advertiser/estate-advertiser-1"}
    for strategy in specs(out / "strategy.yaml").values():
        assert set(strategy["campaign_id"]) == {"ref"}  # type: ignore[arg-type]
    text = (out / "strategy.yaml").read_text()
    assert (
        text.startswith("# yaml-language-server: $schema=")
        and "mediamath/Strategy.schema.json" in text.splitlines()[0]
    )


def test_liveramp_clean_room_export_then_plan_is_empty(sandbox: SandboxServer, tmp_path: Path) -> None:
    origin = applied_liveramp_example(sandbox, tmp_path / "origin")
    room = origin.snapshot().resources["liveramp.Cleanroom/retail-insights"].remote_id
    connection = origin.snapshot().resources["liveramp.DataConnection/crm-upload"].remote_id

    adopter = Workspace(tmp_path / "adopter", dict(SANDBOX_ENV))
    adopter.root.mkdir()
    adopter.write("reconciler.yaml", sandbox_workspace(sandbox.url))
    before = writes(sandbox)
    adopter.ok("export", "--provider", "liveramp", "--cleanroom", room)
    kinds = sorted({rs.kind for rs in adopter.snapshot().resources.values()})
    assert kinds == [
        "Cleanroom",
        "CleanroomDataset",
        "CleanroomPartner",
        "CleanroomQuestion",
        "CleanroomUser",
        "QuestionRunSchedule",
    ]
    assert_plan_is_empty(adopter, len(adopter.snapshot().resources))
    assert writes(sandbox) == before

    out = adopter.root / "liveramp"
    (room_name,) = specs(out / "cleanroom.yaml")
    datasets = specs(out / "cleanroom-dataset.yaml")
    assert list(datasets) == ["acme-crm-upload"]  # named after its data connection
    dataset = datasets["acme-crm-upload"]
    assert dataset["cleanroom_id"] == {"ref": f"Cleanroom/{room_name}"}
    assert dataset["data_connection_id"] == connection  # outside the clean room: literal id
    (question,) = specs(out / "cleanroom-question.yaml").values()
    assignments = question["assignments"]
    assert isinstance(assignments, list)
    assert assignments[0]["dataset_id"] == {"ref": "CleanroomDataset/acme-crm-upload"}  # a nested id field


def test_mediarithmics_export_by_organisation_and_by_clean_room(
    sandbox: SandboxServer, sandbox_ws: Workspace
) -> None:
    seed(sandbox, "mediarithmics", "docs")
    sandbox_ws.ok("export", "--provider", "mediarithmics", "--organisation", "1863", "--out", "org")
    assert {rs.remote_id for rs in sandbox_ws.snapshot().resources.values()} == {"22"}
    assert specs(sandbox_ws.root / "org" / "clean-room.yaml") == {
        "activation-clean-room": {
            "name": "Activation Clean room",
            "organisation_id": "1863",
            "members": [
                {"organisation_id": "1752", "purposes": ["ACTIVATION"]},
                {"organisation_id": "1863", "purposes": ["ACTIVATION"]},
            ],
        }
    }
    sandbox_ws.ok("export", "--provider", "mediarithmics", "--cleanroom", "21", "--out", "room21")
    assert {rs.remote_id for rs in sandbox_ws.snapshot().resources.values()} == {"21", "22"}
    assert_plan_is_empty(sandbox_ws, 2)
    assert writes(sandbox) == {}


def test_export_without_workspace_file_writes_one(sandbox: SandboxServer, tmp_path: Path) -> None:
    seed(sandbox, "mediarithmics", "docs")
    ws = Workspace(tmp_path / "fresh", dict(SANDBOX_ENV))
    ws.root.mkdir()

    failed = ws.run(
        "export",
        "--provider",
        "mediarithmics",
        "--scope",
        "Nothing=1",
        "--endpoint",
        f"{sandbox.url}/mediarithmics",
    )
    assert failed.code == 1 and "has no scope 'Nothing'" in failed.err
    assert not (ws.root / "reconciler.yaml").exists()  # removed again

    ws.ok(
        "export",
        "--provider",
        "mediarithmics",
        "--organisation",
        "1863",
        "--endpoint",
        f"{sandbox.url}/mediarithmics",
    )
    text = (ws.root / "reconciler.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert 'token: "${env:MICS_API_TOKEN}"' in text and "organisation_id: '1863'" in text
    assert "demo-token" not in text
    assert_plan_is_empty(ws, 1)

    again = ws.run(
        "export", "--provider", "mediarithmics", "--organisation", "1863", "--endpoint", "https://x.example"
    )
    assert again.code == 1 and "--endpoint only applies when there is no reconciler.yaml" in again.err


def test_liveramp_seeded_clean_room_export_then_plan_is_empty(
    sandbox: SandboxServer, sandbox_ws: Workspace
) -> None:
    seeded = seed(
        sandbox,
        "liveramp",
        "estate",
        {"cleanrooms": 2, "data_connections": 2, "questions": 2, "partners": 1, "schedules": 2},
    )
    room = seeded["cleanrooms"][1]
    before = writes(sandbox)
    sandbox_ws.ok("export", "--provider", "liveramp", "--cleanroom", room["id"])
    resources = sandbox_ws.snapshot().resources.values()
    assert {rs.remote_id for rs in resources if rs.kind == "Cleanroom"} == {room["id"]}
    assert {rs.remote_id for rs in resources if rs.kind == "CleanroomDataset"} == set(room["datasets"])
    assert len([rs for rs in resources if rs.kind == "QuestionRunSchedule"]) == len(room["schedules"])
    assert_plan_is_empty(sandbox_ws, len(resources))
    assert writes(sandbox) == before
