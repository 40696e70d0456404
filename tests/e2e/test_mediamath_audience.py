"""MediaMath audience segments (the ``audience`` block of ``StrategyTargeting``) end to end: the
real CLI on a copy of ``examples/mediamath`` against the emulator over HTTP, checked through the API.

Aspects covered (issue 21, audience segments):

- create: apply assigns the example's included and excluded segments (read back through
  ``/strategy_audience_segments``), then the plan is empty and drift is clean (the batched read
  is counted in ``tests/providers/mediamath/test_mm_audience_provider``);
- change and remove: the plan names each segment by code (``+ audience.include[BK-TRAVELERS]``),
  apply sets exactly that (one moves from include to exclude); ``audience: {}`` removes them all,
  with the widening warning;
- drift: jdoe's change through the API is reported by code, with who and when;
- adoption: a second workspace over the same account adopts the segments, then changes one;
- between ``plan --out`` and ``apply FILE``: jdoe's segment change is rebased over a region change,
  and is a conflict (exit 3, named) for a plan that changes the audience;
- an unknown segment code fails that resource at apply with the closest codes.
(The export round trip with the audience is in ``test_mediamath_targeting``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.mediamath.app import MediaMathEmulator
from tests.e2e.conftest import TIMEOUT, ExampleWorkspace, MediaMathUser, copy_example

CREDENTIALS = dict(MediaMathEmulator.demo_credentials)
TARGETING = "mediamath.StrategyTargeting/winter-mobile-coasts"
STRATEGY = "mediamath.Strategy/winter-mobile-coasts"
AUDIENCE = "audience: {include: [BK-AUTO-INTENDERS, BK-IN-MARKET-SUV], exclude: [EX-CURRENT-CUSTOMERS]}"
IDS = {"BK-AUTO-INTENDERS": 800002, "BK-IN-MARKET-SUV": 800003, "BK-TRAVELERS": 800004,
       "EX-CURRENT-CUSTOMERS": 800104}


class SegmentApi(MediaMathUser):
    """The emulator's API as a user (XML): a strategy's audience segments."""

    def segments(self, strategy_id: str) -> dict[str, list[str]]:
        r = self.session.get(f"{self.base}/strategy_audience_segments/limit/strategy={strategy_id}",
                             params={"full": "*"}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        out: dict[str, list[str]] = {"include": [], "exclude": []}
        for entity in SafeET.fromstring(r.content).iterfind("entities/entity"):
            props = {p.get("name"): p.get("value") for p in entity.iterfind("prop")}
            out[str(props["restriction"]).lower()].append(str(props["code"]))
        return {k: sorted(v) for k, v in out.items()}

    def post(self, strategy_id: str, form: dict[str, object]) -> None:
        r = self.session.post(f"{self.base}/strategies/{strategy_id}/audience_segments", data=form, timeout=TIMEOUT)
        assert r.status_code == 200, r.text


@pytest.fixture
def api(mm_server: SandboxServer) -> SegmentApi:
    return SegmentApi(mm_server.url)


def audience_lines(ws: ExampleWorkspace) -> list[str]:
    result = ws.run("plan")
    assert result.code == 0, result
    return [" ".join(line.split()) for line in result.out.splitlines() if "audience." in line]


def test_apply_assigns_the_segments_and_then_plans_empty(applied: ExampleWorkspace, api: SegmentApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    assert api.segments(strategy_id) == {"include": ["BK-AUTO-INTENDERS", "BK-IN-MARKET-SUV"],
                                         "exclude": ["EX-CURRENT-CUSTOMERS"]}
    replanned = applied.run("plan", "--detailed-exitcode")
    assert replanned.code == 0 and "No changes" in replanned.out, replanned
    assert applied.run("drift").code == 0


def test_changing_and_removing_segments_names_each_code(applied: ExampleWorkspace, api: SegmentApi) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    applied.edit("targeting.yaml", AUDIENCE,
                 "audience: {include: [BK-AUTO-INTENDERS, BK-TRAVELERS], exclude: [BK-IN-MARKET-SUV]}")
    assert audience_lines(applied) == [
        '+ audience.exclude[BK-IN-MARKET-SUV] = "BK-IN-MARKET-SUV"',
        '- audience.exclude[EX-CURRENT-CUSTOMERS] = "EX-CURRENT-CUSTOMERS"',
        '- audience.include[BK-IN-MARKET-SUV] = "BK-IN-MARKET-SUV"',
        '+ audience.include[BK-TRAVELERS] = "BK-TRAVELERS"',
    ]
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.segments(strategy_id) == {"include": ["BK-AUTO-INTENDERS", "BK-TRAVELERS"],
                                         "exclude": ["BK-IN-MARKET-SUV"]}
    assert applied.run("plan", "--detailed-exitcode").code == 0

    applied.edit("targeting.yaml",
                 "audience: {include: [BK-AUTO-INTENDERS, BK-TRAVELERS], exclude: [BK-IN-MARKET-SUV]}", "audience: {}")
    planned = applied.run("plan")
    assert (f"Warning: {TARGETING}: removes every audience include (BK-AUTO-INTENDERS, BK-TRAVELERS)"
            in planned.err), planned
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.segments(strategy_id) == {"include": [], "exclude": []}
    assert applied.run("plan", "--detailed-exitcode").code == 0


def test_drift_names_who_changed_which_segment_and_when(mm_server: SandboxServer, applied: ExampleWorkspace) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    jdoe = SegmentApi(mm_server.url, "jdoe", "jdoe-password")
    jdoe.post(strategy_id, {"segments.1.id": -IDS["BK-IN-MARKET-SUV"], "segments.2.id": IDS["BK-TRAVELERS"]})
    text = applied.run("drift")
    assert text.code == 2, text
    lines = [line for line in text.out.splitlines() if "audience." in line]
    assert len(lines) == 2 and all("jdoe" in line for line in lines), text.out
    report = applied.run("drift", "--format", "json")
    items = {item["address"]: item for item in json.loads(report.out)["items"]}
    fields = {f["path"]: f for f in items[TARGETING]["fields"]}
    assert set(fields) == {"audience.include[BK-IN-MARKET-SUV]", "audience.include[BK-TRAVELERS]"}
    travel = fields["audience.include[BK-TRAVELERS]"]
    assert (travel["applied"], travel["live"], travel["changed_by"]) == (None, "BK-TRAVELERS", "jdoe")
    assert travel["changed_at"]


def test_a_second_workspace_adopts_the_segments(
    mm_server: SandboxServer, applied: ExampleWorkspace, api: SegmentApi, tmp_path: Path
) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    other = copy_example("mediamath", tmp_path / "other", mm_server.url, CREDENTIALS)
    planned = json.loads(other.run("plan", "--format", "json").out)
    actions = {c["address"]: c for c in planned["resource_changes"]}
    assert actions[TARGETING]["reconciler_action"] == "adopt" and actions[TARGETING]["field_changes"] == []
    assert other.run("apply", "--auto-approve").code == 0
    other.edit("targeting.yaml", "exclude: [EX-CURRENT-CUSTOMERS]", "exclude: [EX-CURRENT-CUSTOMERS, EX-STUDENTS]")
    assert other.run("apply", "--auto-approve").code == 0
    assert api.segments(strategy_id)["exclude"] == ["EX-CURRENT-CUSTOMERS", "EX-STUDENTS"]
    assert other.run("plan", "--detailed-exitcode").code == 0


def test_an_unknown_segment_code_fails_with_the_closest_codes(applied: ExampleWorkspace) -> None:
    applied.edit("targeting.yaml", "include: [BK-AUTO-INTENDERS, BK-IN-MARKET-SUV]", "include: [BK-AUTO-INTENDER]")
    result = applied.run("apply", "--auto-approve")
    assert result.code == 1, result
    assert ("audience.include: 'BK-AUTO-INTENDER' is not a code of the API's audience_segments; "
            "did you mean 'BK-AUTO-INTENDERS'") in result.err, result


def test_a_segment_change_between_plan_and_apply_is_rebased_or_a_conflict(
    mm_server: SandboxServer, applied: ExampleWorkspace, api: SegmentApi
) -> None:
    """No version: the targeting's fingerprint guards the audience too. jdoe's segment change is
    rebased over a plan that changes only a region; over a plan that changes the audience it is a
    conflict (exit 3) and stays."""
    strategy_id = applied.remote_id(STRATEGY)
    jdoe = SegmentApi(mm_server.url, "jdoe", "jdoe-password")
    applied.edit("targeting.yaml", "region: {include: [US-CA, US-NY]}", "region: {include: [US-CA]}")
    plan_file = applied.root / "geo.plan"
    assert applied.run("plan", "--out", str(plan_file)).code == 0
    jdoe.post(strategy_id, {"segments.1.id": IDS["BK-TRAVELERS"]})
    result = applied.run("apply", str(plan_file))
    assert result.code == 0, result
    assert f"{TARGETING}: rebased" in result.text, result
    assert "BK-TRAVELERS" in api.segments(strategy_id)["include"]  # theirs, kept

    applied.edit("targeting.yaml", "exclude: [EX-CURRENT-CUSTOMERS]", "exclude: [EX-STUDENTS]")
    assert applied.run("plan", "--out", str(plan_file)).code == 0
    jdoe.post(strategy_id, {"segments.1.id": IDS["EX-CURRENT-CUSTOMERS"], "segments.1.restriction": "INCLUDE"})
    conflict = applied.run("apply", str(plan_file))
    assert conflict.code == 3, conflict
    assert TARGETING in conflict.text and "jdoe changed audience since the plan" in conflict.text
    assert "EX-CURRENT-CUSTOMERS" in api.segments(strategy_id)["include"]  # nothing overwritten
