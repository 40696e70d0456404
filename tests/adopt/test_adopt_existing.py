"""Existing live objects are adopted by natural key, never created a second time (issue 14).

Aspects covered, against the sandbox over real HTTP:
- objects made by someone else (a colleague's workspace on the same APIs, i.e. "the console"):
  the MediaMath and LiveRamp examples planned in a workspace with no state: every document is
  ``adopt`` (advertiser, campaigns, budget flights, strategies, clean room, dataset, question,
  partner invitation, clean-room question, schedule, user), none is ``create``; apply writes
  nothing (one live object each) and the next plan is empty;
- an adopted object that differs from its manifest: the plan says so loudly and lists the fields,
  apply adopts and updates it in the same run;
- the lookup is batched: one listing per parent, whatever the number of strategies under it;
- several live objects matching one document: exit 1, both ids listed with the import command;
  one live object matching two documents: exit 1 naming both;
- ``adopt_existing: false``: a match is an error naming the live object and the import command;
- mediarithmics (observe-only): a room matching a manifest exactly is adopted (no "create it by
  hand"), and one differing in its members is adopted with the console steps for the rest;
- after ``destroy`` the same manifests are adopted again (deactivated MediaMath objects, rooms
  left in place): nothing is proposed twice (reactivation: ``tests/e2e/test_guardrails_example.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.providers.base import ProviderConfig
from reconciler.providers.mediamath.provider import MediaMathProvider
from reconciler.sandbox import SandboxServer
from tests.adopt.conftest import REPO, Workspace, actions, changed, new_sandbox_workspace, seed, writes

MM_CREDENTIALS = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}


def with_examples(ws: Workspace, *names: str) -> None:
    """The documents of ``examples/<name>`` (not their workspace files) under ``ws``."""
    for name in names:
        shutil.copytree(REPO / "examples" / name, ws.root / name, ignore=shutil.ignore_patterns("reconciler.yaml", ".reconciler"))


@pytest.fixture
def colleague(tmp_path: Path, sandbox: SandboxServer) -> Workspace:
    """Another team's workspace on the same APIs: what it makes is, for us, "made in the console"."""
    return new_sandbox_workspace(tmp_path / "colleague", sandbox)


def list_requests(server: SandboxServer) -> int:
    routes: dict[str, int] = requests.get(f"{server.url}/_sandbox/counters", timeout=10).json()["routes"]
    return routes.get("mediamath GET list_entities", 0)


def mediamath(server: SandboxServer) -> MediaMathProvider:
    return MediaMathProvider(ProviderConfig("mediamath", f"{server.url}/mediamath", MM_CREDENTIALS))


def strategies_doc(n: int) -> str:
    docs = []
    for i in range(n):
        docs.append(f"""\
            apiVersion: mediamath/v1
            kind: Strategy
            metadata:
              name: extra-{i}
            spec:
              campaign_id: {{ref: Campaign/winter-sale}}
              name: Extra {i}
              type: GBO
              goal_type: cpa
              goal_value: 10
              budget: 100
              max_bid: 2
              pacing_type: even
              pacing_interval: day
              pacing_amount: 10
              use_campaign_start: true
              use_campaign_end: true
              media_type: DISPLAY
            """)
    return "---\n".join(docs)


def test_objects_made_elsewhere_are_adopted_never_created_twice(
    sandbox: SandboxServer, sandbox_ws: Workspace, colleague: Workspace
) -> None:
    with_examples(colleague, "mediamath", "liveramp")
    colleague.ok("apply", "--auto-approve")
    made = writes(sandbox)

    with_examples(sandbox_ws, "mediamath", "liveramp")
    plan = sandbox_ws.plan_json()
    kinds = {c["type"]: c["reconciler_action"] for c in plan["resource_changes"]}
    assert set(kinds.values()) == {"adopt"}, kinds
    assert set(kinds) >= {
        "mediamath_Advertiser", "mediamath_Campaign", "mediamath_BudgetFlight", "mediamath_Strategy",
        "liveramp_Cleanroom", "liveramp_CleanroomDataset", "liveramp_Question", "liveramp_DataConnection",
        "liveramp_CleanroomPartner", "liveramp_CleanroomQuestion", "liveramp_QuestionRunSchedule",
        "liveramp_CleanroomUser",
    }
    text = sandbox_ws.ok("plan").out
    assert "EXISTS already and will be ADOPTED into state, nothing is written" in text
    assert "will be created" not in text

    applied = sandbox_ws.ok("apply", "--auto-approve")
    assert "adopted" in applied.text
    assert writes(sandbox) == made  # nothing created, nothing changed: one live object each
    assert changed(sandbox_ws.plan_json()) == {}
    ours, theirs = sandbox_ws.snapshot().resources, colleague.snapshot().resources
    assert {a: rs.remote_id for a, rs in ours.items()} == {a: rs.remote_id for a, rs in theirs.items()}


def test_an_adopted_object_that_differs_is_adopted_and_updated_in_one_apply(
    sandbox: SandboxServer, sandbox_ws: Workspace, colleague: Workspace
) -> None:
    with_examples(colleague, "mediamath")
    colleague.ok("apply", "--auto-approve")
    with_examples(sandbox_ws, "mediamath")
    path = sandbox_ws.root / "mediamath" / "strategies.yaml"
    path.write_text(path.read_text().replace("budget: 20000", "budget: 21000"), encoding="utf-8")

    plan = sandbox_ws.plan_json()
    (change,) = [c for c in plan["resource_changes"] if c["address"] == "mediamath.Strategy/winter-prospecting"]
    assert change["reconciler_action"] == "adopt" and change["change"]["actions"] == ["update"]
    assert [(f["path"], f["before"], f["after"]) for f in change["field_changes"]] == [("budget", 20000, 21000)]
    text = sandbox_ws.ok("plan").out
    assert "(id " in text and "EXISTS already and will be ADOPTED into state, then updated in-place" in text
    assert "~ budget = 20000 -> 21000" in text

    applied = sandbox_ws.ok("apply", "--auto-approve")
    assert "mediamath.Strategy/winter-prospecting: adopted" in applied.text and "then updated" in applied.text
    provider = mediamath(sandbox)
    live = provider.read("Strategy", [change["remote_id"]])[change["remote_id"]]
    assert live.fields["budget"] == 21000
    assert changed(sandbox_ws.plan_json()) == {}


def test_the_lookup_is_one_listing_per_parent(
    sandbox: SandboxServer, sandbox_ws: Workspace, colleague: Workspace
) -> None:
    for ws in (colleague, sandbox_ws):
        with_examples(ws, "mediamath")
        ws.write("mediamath/extra.yaml", strategies_doc(30))
    colleague.ok("apply", "--auto-approve")
    before = list_requests(sandbox)
    plan = sandbox_ws.plan_json()
    assert set(actions(plan).values()) == {"adopt"} and len(plan["resource_changes"]) == 45
    # organization, agency, advertiser: one each; campaigns: one listing under the advertiser;
    # flights and strategies: one listing per campaign (35 strategies, 2 campaigns); concepts under
    # the advertiser; the concepts of the one strategy that runs one = 10 (its targeting is read per
    # dimension, not listed: the API lists no strategy targets); + its audience segments, supply
    # sources, deals, site lists and domain restrictions: one batched listing each
    assert list_requests(sandbox) - before == 10 + 5


def test_several_live_matches_are_an_error_listing_them(
    sandbox: SandboxServer, sandbox_ws: Workspace, colleague: Workspace
) -> None:
    with_examples(colleague, "mediamath")
    colleague.ok("apply", "--auto-approve")
    original = colleague.snapshot().resources["mediamath.Strategy/winter-retargeting"]
    campaign = colleague.snapshot().resources["mediamath.Campaign/winter-sale"].remote_id
    copy = mediamath(sandbox).create("Strategy", {**original.applied_spec, "campaign_id": campaign})
    made = writes(sandbox)

    with_examples(sandbox_ws, "mediamath")
    result = sandbox_ws.run("plan")
    assert result.code == 1, result.text
    assert "mediamath.Strategy/winter-retargeting: 2 live objects match its natural key" in result.err
    assert f"{original.remote_id}, {copy.remote_id}" in result.err
    assert "reconciler import mediamath.Strategy/winter-retargeting ID" in result.err
    assert "Traceback" not in result.text
    applied = sandbox_ws.run("apply", "--auto-approve")
    assert applied.code == 1 and writes(sandbox) == made and sandbox_ws.snapshot().resources == {}

    # a second document for the same agency, its parent written as a literal id: validate cannot
    # tell (the same reference twice it can: tests/manifest), the lookup can
    org = colleague.snapshot().resources["mediamath.Organization/acme-org"].remote_id
    sandbox_ws.write("mediamath/twin.yaml", f"""\
        apiVersion: mediamath/v1
        kind: Agency
        metadata:
          name: twin
        spec:
          organization_id: "{org}"
          name: ACME Demo Agency
        """)
    twice = sandbox_ws.run("plan")
    assert twice.code == 1
    assert "mediamath.Agency/twin: its natural key matches live object" in twice.err
    assert "which mediamath.Agency/acme-agency also matches" in twice.err


def test_adopt_existing_false_makes_a_match_an_error_with_the_import_command(
    sandbox: SandboxServer, sandbox_ws: Workspace, colleague: Workspace
) -> None:
    with_examples(colleague, "mediamath")
    colleague.ok("apply", "--auto-approve")
    agency = colleague.snapshot().resources["mediamath.Agency/acme-agency"].remote_id
    with_examples(sandbox_ws, "mediamath")
    config = sandbox_ws.root / "reconciler.yaml"
    config.write_text(config.read_text() + "adopt_existing: false\n", encoding="utf-8")
    result = sandbox_ws.run("plan")
    assert result.code == 1, result.text
    assert f"mediamath.Agency/acme-agency: exists already as Agency {agency}, and adoption is off" in result.err
    assert f"reconciler import mediamath.Agency/acme-agency {agency}" in result.err
    assert "mediamath.Organization" not in result.err  # read-only kinds are always looked up


MICS_ROOM = """\
apiVersion: mediarithmics/v1
kind: CleanRoom
metadata:
  name: activation
spec:
  name: Activation Clean room
  organisation_id: "1863"
  members:
    - {organisation_id: "1752", purposes: [ACTIVATION]}
    - {organisation_id: "1863", purposes: [ACTIVATION]}
"""


def test_a_mediarithmics_room_matching_the_manifest_is_adopted(sandbox: SandboxServer, sandbox_ws: Workspace) -> None:
    seed(sandbox, "mediarithmics", "docs")
    sandbox_ws.write("rooms.yaml", MICS_ROOM)
    plan = sandbox_ws.plan_json()
    (change,) = plan["resource_changes"]
    assert change["reconciler_action"] == "adopt" and change["remote_id"] == "22"
    assert change["manual_steps"] == [] and change["field_changes"] == []
    result = sandbox_ws.ok("apply", "--auto-approve")
    assert "create it by hand" not in result.text and "Pending console steps" not in result.text
    assert sandbox_ws.snapshot().resources["mediarithmics.CleanRoom/activation"].remote_id == "22"
    assert sandbox_ws.run("plan", "--detailed-exitcode").code == 0

    # a member more in the manifest: adopted, and the console step for the rest is listed
    sandbox_ws.backend().forget("mediarithmics.CleanRoom/activation")
    sandbox_ws.write("rooms.yaml", MICS_ROOM + '    - {organisation_id: "1581", purposes: [INSIGHTS]}\n')
    (change,) = sandbox_ws.plan_json()["resource_changes"]
    assert change["reconciler_action"] == "adopt"
    assert [f["path"] for f in change["field_changes"]] == ["members[1581]"]
    assert any("invite organisation 1581 with purposes INSIGHTS" in s for s in change["manual_steps"])
    applied = sandbox_ws.ok("apply", "--auto-approve")
    assert "Pending console steps (1)" in applied.out
    assert sandbox_ws.snapshot().resources["mediarithmics.CleanRoom/activation"].remote_id == "22"


def test_after_destroy_the_same_manifests_adopt_what_is_left(sandbox: SandboxServer, sandbox_ws: Workspace) -> None:
    with_examples(sandbox_ws, "mediamath", "liveramp")
    campaigns = sandbox_ws.root / "mediamath" / "campaigns.yaml"
    campaigns.write_text(campaigns.read_text().replace("prevent_destroy: true", "prevent_destroy: false"), encoding="utf-8")
    sandbox_ws.ok("apply", "--auto-approve")
    before: dict[str, Any] = {a: rs.remote_id for a, rs in sandbox_ws.snapshot().resources.items()}
    destroyed = sandbox_ws.run("destroy", "--auto-approve", "--skip-guardrails")
    assert destroyed.code == 0, destroyed.text
    assert "destroy leaves 1 object(s) live" in destroyed.text  # the clean room, abandoned by default
    assert "deactivated (status=0) and forgotten" in destroyed.text

    plan = sandbox_ws.plan_json()
    acts = actions(plan)
    created = sorted(a for a, act in acts.items() if act == "create")
    # budget flights are really deleted; LiveRamp objects under the kept room were deleted; the
    # strategy's targeting was cleared (an empty targeting is set again, not adopted), its concept
    # assignment deleted
    assert all(a.startswith(("mediamath.BudgetFlight/", "liveramp.", "mediamath.StrategyTargeting/",
                             "mediamath.StrategyConcept/")) for a in created), created
    assert "liveramp.Cleanroom/retail-insights" not in created
    for address, act in acts.items():
        if act == "adopt":
            assert plan_remote_id(plan, address) == before[address]
    sandbox_ws.ok("apply", "--auto-approve")
    assert changed(sandbox_ws.plan_json()) == {}


def plan_remote_id(plan: dict[str, Any], address: str) -> str:
    (change,) = [c for c in plan["resource_changes"] if c["address"] == address]
    return str(change["remote_id"])


def test_a_strategy_made_between_plan_and_apply_is_adopted(
    sandbox: SandboxServer, sandbox_ws: Workspace, tmp_path: Path
) -> None:
    """MediaMath answers no 409 for a second strategy with one name: apply looks creates up first."""
    with_examples(sandbox_ws, "mediamath")
    sandbox_ws.ok("apply", "--auto-approve")
    sandbox_ws.write("mediamath/extra.yaml", strategies_doc(1))
    saved = tmp_path / "plan.json"
    sandbox_ws.ok("plan", "--out", str(saved))
    campaign = sandbox_ws.snapshot().resources["mediamath.Campaign/winter-sale"].remote_id
    provider = mediamath(sandbox)
    theirs = provider.create("Strategy", {
        "campaign_id": campaign, "name": "Extra 0", "type": "GBO", "goal_type": "cpa", "goal_value": 10,
        "budget": 100, "max_bid": 2, "pacing_type": "even", "pacing_interval": "day", "pacing_amount": 10,
        "use_campaign_start": True, "use_campaign_end": True, "media_type": "DISPLAY"})
    applied = sandbox_ws.ok("apply", str(saved))
    assert f"adopted {theirs.remote_id}: it exists already (made since the plan" in applied.text
    named = [s for s in provider.list_children("Strategy", campaign) if s.fields["name"] == "Extra 0"]
    assert [s.remote_id for s in named] == [theirs.remote_id]  # one strategy, not two
    assert sandbox_ws.snapshot().resources["mediamath.Strategy/extra-0"].remote_id == theirs.remote_id


def test_an_object_deleted_and_made_again_is_adopted(sandbox: SandboxServer, sandbox_ws: Workspace) -> None:
    """Ours was deleted behind our back and someone made it again: adopted, not created twice."""
    with_examples(sandbox_ws, "mediamath")
    sandbox_ws.ok("apply", "--auto-approve")
    flight = sandbox_ws.snapshot().resources["mediamath.BudgetFlight/winter-sale-main"]
    provider = mediamath(sandbox)
    live = provider.read("BudgetFlight", [flight.remote_id])[flight.remote_id]
    provider.delete("BudgetFlight", flight.remote_id, provider.precondition_for(live))
    remade = provider.create("BudgetFlight", dict(live.fields))
    plan = sandbox_ws.plan_json()
    change = {c["address"]: c for c in plan["resource_changes"]}["mediamath.BudgetFlight/winter-sale-main"]
    assert change["reconciler_action"] == "adopt" and change["remote_id"] == remade.remote_id
    sandbox_ws.ok("apply", "--auto-approve")
    assert sandbox_ws.snapshot().resources["mediamath.BudgetFlight/winter-sale-main"].remote_id == remade.remote_id
    assert changed(sandbox_ws.plan_json()) == {}
