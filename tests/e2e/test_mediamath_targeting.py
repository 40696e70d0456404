"""MediaMath targeting (``StrategyTargeting``) end to end: the real CLI on a copy of
``examples/mediamath`` against the MediaMath emulator over HTTP, checked through the API itself.

Aspects covered (issue 21, target dimensions):

- create: apply writes the example's geo regions and device type (read back through
  ``/strategies/{id}/target_dimensions/{n}``), then the plan is empty and drift is clean; a
  no-change plan and drift read the targeting with one request per dimension (8), and drift does
  not read the other strategies' targeting (no unmanaged scan);
- change and remove values: the plan names each value added or removed
  (``+ region.include[US-TX]``), apply sets exactly that; ``device: {}`` clears a dimension;
  a dimension the document does not name is left alone (a console change to it is no drift);
- guardrail: removing every include of a dimension, or the document of an active strategy, is a
  warning at the top of the plan;
- removing the document clears every dimension (shown as a delete); with
  ``on_delete: abandon`` it is forgotten and the targeting stays;
- drift: a change by ``jdoe`` through the API is reported with the value, who and when (text and
  JSON);
- between ``plan --out`` and ``apply FILE``: jdoe's change to another dimension is rebased over
  (both live afterwards); jdoe's change to the same dimension is a conflict (exit 3) and stays;
- adoption: a second workspace over the same account adopts the strategy and its targeting
  (nothing written), and updates a value that differs; ``state rm`` then ``import`` takes it over;
- export round trip: ``export --campaign`` writes ``strategy-targeting.yaml`` named after the
  strategy, with codes and a reference, and the next plan is empty;
- an unknown code fails that resource at apply with the closest codes, the rest is applied.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from defusedxml import ElementTree as SafeET

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.mediamath.app import MediaMathEmulator
from tests.e2e.conftest import TIMEOUT, ExampleWorkspace, MediaMathUser, Sandbox, copy_example

CREDENTIALS = dict(MediaMathEmulator.demo_credentials)
TARGETING = "mediamath.StrategyTargeting/winter-mobile-coasts"
STRATEGY = "mediamath.Strategy/winter-mobile-coasts"
REGION, DEVICE, OS = 7, 24, 5
IDS = {"US-CA": 70001, "US-NY": 70002, "US-TX": 70003, "US-FL": 70004, "SMARTPHONE": 240002, "TABLET": 240003,
       "IOS": 50003}


class TargetApi(MediaMathUser):
    """The emulator's API as a user (XML): read and write a strategy's target dimensions."""

    def codes(self, strategy_id: str, dim: int) -> dict[str, list[str]]:
        r = self.session.get(f"{self.base}/strategies/{strategy_id}/target_dimensions/{dim}", timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        root = SafeET.fromstring(r.content)
        return {
            tag: sorted(str(p.get("value")) for p in root.iterfind(f"{tag}/entities/entity/prop[@name='code']"))
            for tag in ("include", "exclude")
        }

    def set(self, strategy_id: str, dim: int, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        r = self.session.post(f"{self.base}/strategies/{strategy_id}/target_dimensions/{dim}",
                              data={"include": [IDS[c] for c in include], "exclude": [IDS[c] for c in exclude]},
                              timeout=TIMEOUT)
        assert r.status_code == 200, r.text


@pytest.fixture
def api(mm_server: SandboxServer) -> TargetApi:
    return TargetApi(mm_server.url)


@pytest.fixture
def jdoe(mm_server: SandboxServer) -> TargetApi:
    return TargetApi(mm_server.url, "jdoe", "jdoe-password")


def plan_lines(ws: ExampleWorkspace, *args: str) -> list[str]:
    result = ws.run("plan", *args)
    assert result.code == 0, result
    return [line.strip() for line in result.out.splitlines() if "region." in line or "device." in line]


def test_apply_creates_the_targeting_and_then_plans_empty(mm: Sandbox, applied: ExampleWorkspace, api: TargetApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    assert applied.remote_id(TARGETING) == strategy_id
    assert api.codes(strategy_id, REGION) == {"include": ["US-CA", "US-NY"], "exclude": []}
    assert api.codes(strategy_id, DEVICE) == {"include": ["SMARTPHONE"], "exclude": []}
    assert api.codes(strategy_id, OS) == {"include": [], "exclude": []}

    mm.clear_counters()
    replanned = applied.run("plan", "--detailed-exitcode")
    assert replanned.code == 0 and "No changes" in replanned.out, replanned
    routes = mm.counters()
    # one request per dimension of the one targeted strategy; the five strategies themselves: one
    assert routes.get("mediamath GET get_target_dimension") == 8, routes
    mm.clear_counters()
    assert applied.run("drift").code == 0
    # drift reads the managed targeting only: the five strategies are not scanned for unmanaged targeting
    assert mm.counters().get("mediamath GET get_target_dimension") == 8


def test_changing_and_removing_values_names_each_value(applied: ExampleWorkspace, api: TargetApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    applied.edit("targeting.yaml", "region: {include: [US-CA, US-NY]}",
                 "region: {include: [US-TX, US-CA], exclude: [US-FL]}")
    assert plan_lines(applied) == [
        '+ region.exclude[US-FL] = "US-FL"',
        '- region.include[US-NY] = "US-NY"',
        '+ region.include[US-TX] = "US-TX"',
    ]
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.codes(strategy_id, REGION) == {"include": ["US-CA", "US-TX"], "exclude": ["US-FL"]}

    applied.edit("targeting.yaml", "device: {include: [SMARTPHONE]}", "device: {}")
    assert plan_lines(applied) == ['- device.include[SMARTPHONE] = "SMARTPHONE"']
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.codes(strategy_id, DEVICE) == {"include": [], "exclude": []}
    assert api.codes(strategy_id, REGION) == {"include": ["US-CA", "US-TX"], "exclude": ["US-FL"]}
    assert applied.run("plan", "--detailed-exitcode").code == 0


def test_removing_the_document_clears_the_targeting(applied: ExampleWorkspace, api: TargetApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    (applied.root / "targeting.yaml").unlink()
    planned = applied.run("plan")
    assert f"{TARGETING} (id {strategy_id}) will be DELETED" in planned.out, planned
    assert ("cleared: every target dimension, audience segment, domain restriction, supply source, deal and site "
            "list of the strategy is removed") in planned.out
    assert "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete" in planned.out
    assert applied.run("apply", "--auto-approve").code == 0
    for dim in (REGION, DEVICE):
        assert api.codes(strategy_id, dim) == {"include": [], "exclude": []}
    for coll in ("strategy_audience_segments", "strategy_deals"):  # the audience and the deal go too
        r = api.session.get(f"{api.base}/{coll}/limit/strategy={strategy_id}", timeout=TIMEOUT)
        assert r.status_code == 200 and SafeET.fromstring(r.content).find("entities").get("count") == "0", r.text
    assert applied.run("plan", "--detailed-exitcode").code == 0  # the strategy itself is untouched


def test_widening_the_targeting_is_a_warning_at_the_top_of_the_plan(applied: ExampleWorkspace) -> None:
    """Removing every include of a dimension, or clearing an active strategy's targeting, is a
    guardrail warning (the plan goes ahead); narrowing and clearing a paused strategy's are not."""
    applied.edit("targeting.yaml", "device: {include: [SMARTPHONE]}", "device: {}")
    planned = applied.run("plan", "--detailed-exitcode")
    assert planned.code == 2, planned
    assert (f"Warning: {TARGETING}: removes every device include (SMARTPHONE): the strategy then buys in every "
            "device not excluded") in planned.err, planned
    applied.edit("targeting.yaml", "device: {}", "device: {include: [SMARTPHONE, TABLET]}")
    assert "Warning" not in applied.run("plan").err  # widening within the dimension: no finding

    path = applied.root / "targeting.yaml"
    text = path.read_text(encoding="utf-8")
    path.unlink()
    assert "Warning" not in applied.run("plan").err  # the example's strategy is paused: nothing to widen
    path.write_text(text, encoding="utf-8")
    applied.edit("strategies.yaml", "  name: Winter Mobile Coasts\n", "  name: Winter Mobile Coasts\n  status: true\n")
    assert applied.run("apply", "--auto-approve").code == 0
    path.unlink()
    planned = applied.run("plan")
    assert planned.code == 0, planned
    strategy_id = applied.remote_id(STRATEGY)
    assert (f"Warning: {TARGETING}: clears the targeting of active strategy 'Winter Mobile Coasts' (id {strategy_id}): "
            "it then buys everywhere (audience include BK-AUTO-INTENDERS, BK-IN-MARKET-SUV; audience exclude "
            "EX-CURRENT-CUSTOMERS; deals ACME-PREMIUM-2026; device include SMARTPHONE, TABLET; region include US-CA, "
            "US-NY dropped)"
            ) in planned.err, planned


def test_on_delete_abandon_leaves_the_targeting_live(applied: ExampleWorkspace, api: TargetApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    path = applied.root / "targeting.yaml"
    path.write_text(path.read_text() + "lifecycle: {on_delete: abandon}\n", encoding="utf-8")
    assert applied.run("apply", "--auto-approve").code == 0
    path.unlink()
    planned = applied.run("plan")
    assert "will be forgotten" in planned.out and "lifecycle on_delete: abandon" in planned.out, planned
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.codes(strategy_id, REGION) == {"include": ["US-CA", "US-NY"], "exclude": []}
    assert TARGETING not in applied.run("state", "list").out


def test_drift_names_who_changed_which_value_and_when(applied: ExampleWorkspace, jdoe: TargetApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    jdoe.set(strategy_id, OS, include=["IOS"])  # a dimension the document does not name: not drift
    assert applied.run("drift").code == 0
    jdoe.set(strategy_id, REGION, include=["US-CA"], exclude=["US-FL"])

    text = applied.run("drift")
    assert text.code == 2, text
    lines = [line for line in text.out.splitlines() if "region." in line]
    assert len(lines) == 2 and all("jdoe" in line for line in lines), text.out
    assert any("region.include[US-NY]" in line for line in lines)
    assert any("region.exclude[US-FL]" in line for line in lines)

    report = applied.run("drift", "--format", "json")
    items = {item["address"]: item for item in json.loads(report.out)["items"]}
    assert {a for a, item in items.items() if item["status"] != "in-sync"} == {TARGETING}
    fields = {f["path"]: f for f in items[TARGETING]["fields"]}
    assert set(fields) == {"region.exclude[US-FL]", "region.include[US-NY]"}
    assert (fields["region.include[US-NY]"]["applied"], fields["region.include[US-NY]"]["live"]) == ("US-NY", None)
    assert fields["region.exclude[US-FL]"]["changed_by"] == "jdoe" and fields["region.exclude[US-FL]"]["changed_at"]


def test_a_change_to_another_dimension_is_rebased_one_to_the_same_is_a_conflict(
    applied: ExampleWorkspace, api: TargetApi, jdoe: TargetApi
) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    applied.edit("targeting.yaml", "region: {include: [US-CA, US-NY]}", "region: {include: [US-CA, US-TX]}")
    plan_file = applied.root / "geo.plan"
    assert applied.run("plan", "--out", str(plan_file)).code == 0
    jdoe.set(strategy_id, DEVICE, include=["SMARTPHONE", "TABLET"])
    result = applied.run("apply", str(plan_file))
    assert result.code == 0, result
    assert f"{TARGETING}: rebased" in result.text, result
    assert api.codes(strategy_id, REGION) == {"include": ["US-CA", "US-TX"], "exclude": []}  # ours
    assert api.codes(strategy_id, DEVICE) == {"include": ["SMARTPHONE", "TABLET"], "exclude": []}  # theirs, kept

    applied.edit("targeting.yaml", "region: {include: [US-CA, US-TX]}", "region: {include: [US-CA, US-FL]}")
    assert applied.run("plan", "--out", str(plan_file)).code == 0
    jdoe.set(strategy_id, REGION, include=["US-NY"])
    conflict = applied.run("apply", str(plan_file))
    assert conflict.code == 3, conflict
    assert TARGETING in conflict.text and "jdoe changed region since the plan" in conflict.text  # named (18.5)
    assert api.codes(strategy_id, REGION) == {"include": ["US-NY"], "exclude": []}  # nothing overwritten


def test_a_second_workspace_adopts_the_strategy_and_its_targeting(
    mm_server: SandboxServer, applied: ExampleWorkspace, api: TargetApi, tmp_path: Path
) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    other = copy_example("mediamath", tmp_path / "other", mm_server.url, CREDENTIALS)
    planned = json.loads(other.run("plan", "--format", "json").out)
    actions = {c["address"]: c for c in planned["resource_changes"]}
    assert actions[TARGETING]["reconciler_action"] == "adopt" and actions[TARGETING]["remote_id"] == strategy_id
    assert actions[TARGETING]["field_changes"] == []
    assert other.run("apply", "--auto-approve").code == 0
    assert other.run("plan", "--detailed-exitcode").code == 0

    other.edit("targeting.yaml", "device: {include: [SMARTPHONE]}", "device: {include: [TABLET]}")
    assert other.run("apply", "--auto-approve").code == 0
    assert api.codes(strategy_id, DEVICE) == {"include": ["TABLET"], "exclude": []}

    assert other.run("state", "rm", TARGETING).code == 0
    imported = other.run("import", TARGETING, strategy_id)
    assert imported.code == 0, imported
    assert other.run("plan", "--detailed-exitcode").code == 0


def test_export_writes_the_targeting_beside_its_strategy(
    mm_server: SandboxServer, applied: ExampleWorkspace, tmp_path: Path
) -> None:
    campaign_id = applied.remote_id("mediamath.Campaign/winter-sale")
    exported = copy_example("mediamath", tmp_path / "exported", mm_server.url, CREDENTIALS)
    for path in exported.root.glob("*.yaml"):
        if path.name != "reconciler.yaml":
            path.unlink()
    result = exported.run("export", "--provider", "mediamath", "--campaign", campaign_id)
    assert result.code == 0, result
    written = exported.root / "mediamath" / "strategy-targeting.yaml"
    docs = [d for d in yaml.safe_load_all(written.read_text(encoding="utf-8")) if d]
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [("StrategyTargeting", "winter-mobile-coasts")]
    assert docs[0]["spec"] == {
        "strategy_id": {"ref": "Strategy/winter-mobile-coasts"},
        "region": {"include": ["US-CA", "US-NY"], "exclude": []},
        "device": {"include": ["SMARTPHONE"], "exclude": []},
        "audience": {"include": ["BK-AUTO-INTENDERS", "BK-IN-MARKET-SUV"], "exclude": ["EX-CURRENT-CUSTOMERS"]},
        "deals": ["ACME-PREMIUM-2026"],
    }
    assert written.read_text().startswith("# yaml-language-server: $schema=")
    assert exported.run("plan", "--detailed-exitcode").code == 0
    shutil.rmtree(exported.root / "mediamath")


def test_an_unknown_code_fails_that_resource_with_the_closest_codes(applied: ExampleWorkspace, api: TargetApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    applied.edit("targeting.yaml", "region: {include: [US-CA, US-NY]}", "region: {include: [US-CAL]}")
    applied.edit("strategies.yaml", "max_bid: 3.5", "max_bid: 3.75")
    result = applied.run("apply", "--auto-approve")
    assert result.code == 1, result
    assert ("region.include: 'US-CAL' is not a code of target dimension 7 (region) in the API's target_values; "
            "did you mean 'US-CA'") in result.err, result
    assert "targeting.yaml" in result.err
    assert api.codes(strategy_id, REGION) == {"include": ["US-CA", "US-NY"], "exclude": []}
    assert "mediamath.Strategy/winter-mobile-coasts: updated" in result.text  # the rest was applied
