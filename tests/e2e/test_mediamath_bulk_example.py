"""``examples/mediamath-bulk`` end to end: generated documents against the MediaMath emulator.

Aspects covered (issue 20, "Done when"):
- the example (a group used per market, 36 strategies from a CSV, defaults, labels) applies, and
  the next ``plan --detailed-exitcode`` is empty;
- reordering the CSV's rows and adding one plans exactly one create, nothing for the others;
- ``-l market=ca`` plans only Canada's objects; a selector matching nothing is an error;
- ``--env staging`` plans against its own state file and leaves the default state untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.mediamath.app import MediaMathEmulator
from tests.e2e.conftest import ExampleWorkspace, copy_example


@pytest.fixture
def ws(mm_server: SandboxServer, tmp_path: Path) -> ExampleWorkspace:
    ws = copy_example(
        "mediamath-bulk", tmp_path / "bulk", mm_server.url, dict(MediaMathEmulator.demo_credentials),
        provider="mediamath",
    )
    applied = ws.run("apply", "--auto-approve")
    assert applied.code == 0, applied
    return ws


def planned(ws: ExampleWorkspace, *args: str) -> dict[str, str]:
    """Address -> action of a JSON plan (``--detailed-exitcode`` off)."""
    result = ws.run("plan", "--format", "json", *args)
    assert result.code == 0, result
    return {c["address"]: c["reconciler_action"] for c in json.loads(result.out)["resource_changes"]}


def test_the_example_applies_and_then_plans_nothing(ws: ExampleWorkspace) -> None:
    listed = ws.run("state", "list")
    assert listed.code == 0, listed
    strategies = [line for line in listed.out.splitlines() if line.startswith("mediamath.Strategy/")]
    assert len(strategies) == 36
    assert "mediamath.Campaign/launch-ca.campaign" in listed.out
    strategy = ws.state_of("mediamath.Strategy/ca-prospecting-display")
    assert strategy["remote_id"]
    again = ws.run("plan", "--detailed-exitcode")
    assert again.code == 0, again


def test_reordered_rows_and_one_new_row_plan_one_create(ws: ExampleWorkspace) -> None:
    csv = ws.root / "strategies.csv"
    header, *rows = csv.read_text(encoding="utf-8").splitlines()
    rows.reverse()
    rows.insert(5, "ca,contextual,display,1.2,2500,14")
    csv.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    changes = planned(ws)
    actionable = {address: action for address, action in changes.items() if action != "no-op"}
    assert actionable == {"mediamath.Strategy/ca-contextual-display": "create"}


def test_a_label_selector_plans_only_its_objects(ws: ExampleWorkspace) -> None:
    csv = ws.root / "strategies.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace(",prospecting,display,1.5,", ",prospecting,display,1.6,"), encoding="utf-8")
    everything = {a for a, action in planned(ws).items() if action == "update"}
    assert any(a.startswith("mediamath.Strategy/us-") for a in everything)
    canada = {a for a, action in planned(ws, "-l", "market=ca").items() if action == "update"}
    assert canada and all(a.startswith("mediamath.Strategy/ca-") for a in canada)
    assert canada == {a for a in everything if a.startswith("mediamath.Strategy/ca-")}
    nothing = ws.run("plan", "-l", "market=fr")
    assert nothing.code == 1
    assert "market=fr" in nothing.err


def test_the_staging_environment_has_its_own_state(ws: ExampleWorkspace) -> None:
    default_state = ws.root / ".reconciler" / "state.json"
    before = default_state.read_bytes()
    result = ws.run("--env", "staging", "plan", "--format", "json")
    assert result.code == 0, result
    changes = json.loads(result.out)["resource_changes"]
    campaigns = [c for c in changes if c["address"].startswith("mediamath.Campaign/")]
    assert campaigns and all(c["reconciler_action"] == "create" for c in campaigns)
    assert default_state.read_bytes() == before
