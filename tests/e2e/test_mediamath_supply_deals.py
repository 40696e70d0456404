"""MediaMath supply sources and deals (``supply_sources`` / ``deals`` of ``StrategyTargeting``) end to
end: the real CLI on a copy of ``examples/mediamath`` against the emulator over HTTP, checked
through the API.

Aspects covered (issue 21, supply and deals):

- create: apply sets the example's deal (read back through ``/strategy_deals``), the plan is then
  empty; adding supply sources names each code in the plan (``+ supply_sources[ADX]``);
- change and remove: a deal swapped, ``supply_sources: []`` removes every one;
- drift: jdoe's change through the API is reported by code, with who and when;
- adoption: a second workspace adopts the picks (nothing to change), then changes one;
- export round trip: the exported document carries the deal and the next plan is empty;
- an unknown deal code fails that resource at apply with the closest codes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from defusedxml import ElementTree as SafeET

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.mediamath.app import MediaMathEmulator
from tests.e2e.conftest import TIMEOUT, ExampleWorkspace, MediaMathUser, copy_example

CREDENTIALS = dict(MediaMathEmulator.demo_credentials)
TARGETING = "mediamath.StrategyTargeting/winter-mobile-coasts"
STRATEGY = "mediamath.Strategy/winter-mobile-coasts"
DEALS = "deals: [ACME-PREMIUM-2026]"
IDS = {"ACME-PREMIUM-2026": 95001, "NEWS-HOMEPAGE": 95002, "SPORTS-PMP": 95003, "ADX": 90001}


class PickApi(MediaMathUser):
    """The emulator's API as a user (XML): a strategy's supply sources and deals."""

    def codes(self, coll: str, strategy_id: str) -> list[str]:
        r = self.session.get(f"{self.base}/{coll}/limit/strategy={strategy_id}", params={"full": "*"}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return sorted(str({p.get("name"): p.get("value") for p in e.iterfind("prop")}["code"])
                      for e in SafeET.fromstring(r.content).iterfind("entities/entity"))

    def set_deals(self, strategy_id: str, ids: list[int]) -> None:
        r = self.session.post(f"{self.base}/strategies/{strategy_id}/deals", data={"deal_ids": ids}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text


@pytest.fixture
def api(mm_server: SandboxServer) -> PickApi:
    return PickApi(mm_server.url)


def plan_lines(ws: ExampleWorkspace) -> list[str]:
    result = ws.run("plan")
    assert result.code == 0, result
    return [" ".join(line.split()) for line in result.out.splitlines() if "deals[" in line or "supply_sources[" in line]


def test_apply_sets_the_deal_then_supply_sources_are_added_changed_and_removed(
    applied: ExampleWorkspace, api: PickApi
) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    assert api.codes("strategy_deals", strategy_id) == ["ACME-PREMIUM-2026"]
    assert applied.run("plan", "--detailed-exitcode").code == 0

    applied.edit("targeting.yaml", DEALS, "deals: [NEWS-HOMEPAGE, SPORTS-PMP]\n  supply_sources: [ADX, RUBICON]")
    assert plan_lines(applied) == [
        '- deals[ACME-PREMIUM-2026] = "ACME-PREMIUM-2026"',
        '+ deals[NEWS-HOMEPAGE] = "NEWS-HOMEPAGE"',
        '+ deals[SPORTS-PMP] = "SPORTS-PMP"',
        '+ supply_sources[ADX] = "ADX"',
        '+ supply_sources[RUBICON] = "RUBICON"',
    ]
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.codes("strategy_deals", strategy_id) == ["NEWS-HOMEPAGE", "SPORTS-PMP"]
    assert api.codes("strategy_supply_sources", strategy_id) == ["ADX", "RUBICON"]
    assert applied.run("plan", "--detailed-exitcode").code == 0

    applied.edit("targeting.yaml", "supply_sources: [ADX, RUBICON]", "supply_sources: []")
    assert plan_lines(applied) == ['- supply_sources[ADX] = "ADX"', '- supply_sources[RUBICON] = "RUBICON"']
    assert applied.run("apply", "--auto-approve").code == 0
    assert api.codes("strategy_supply_sources", strategy_id) == []
    assert api.codes("strategy_deals", strategy_id) == ["NEWS-HOMEPAGE", "SPORTS-PMP"]
    assert applied.run("plan", "--detailed-exitcode").code == 0


def test_drift_names_who_changed_the_deals_and_when(mm_server: SandboxServer, applied: ExampleWorkspace) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    PickApi(mm_server.url, "jdoe", "jdoe-password").set_deals(strategy_id, [IDS["ACME-PREMIUM-2026"], IDS["SPORTS-PMP"]])
    text = applied.run("drift")
    assert text.code == 2, text
    assert any("deals[SPORTS-PMP]" in line and "jdoe" in line for line in text.out.splitlines()), text.out
    items = {i["address"]: i for i in json.loads(applied.run("drift", "--format", "json").out)["items"]}
    fields = {f["path"]: f for f in items[TARGETING]["fields"]}
    assert set(fields) == {"deals[SPORTS-PMP]"}
    assert (fields["deals[SPORTS-PMP]"]["live"], fields["deals[SPORTS-PMP]"]["changed_by"]) == ("SPORTS-PMP", "jdoe")
    assert fields["deals[SPORTS-PMP]"]["changed_at"]


def test_a_second_workspace_adopts_the_deals(
    mm_server: SandboxServer, applied: ExampleWorkspace, api: PickApi, tmp_path: Path
) -> None:
    strategy_id = applied.remote_id(STRATEGY)
    other = copy_example("mediamath", tmp_path / "other", mm_server.url, CREDENTIALS)
    planned = json.loads(other.run("plan", "--format", "json").out)
    actions = {c["address"]: c for c in planned["resource_changes"]}
    assert actions[TARGETING]["reconciler_action"] == "adopt" and actions[TARGETING]["field_changes"] == []
    assert other.run("apply", "--auto-approve").code == 0
    other.edit("targeting.yaml", DEALS, "deals: [NEWS-HOMEPAGE]")
    assert other.run("apply", "--auto-approve").code == 0
    assert api.codes("strategy_deals", strategy_id) == ["NEWS-HOMEPAGE"]
    assert other.run("plan", "--detailed-exitcode").code == 0


def test_export_round_trip_keeps_the_picks(mm_server: SandboxServer, applied: ExampleWorkspace, tmp_path: Path) -> None:
    applied.edit("targeting.yaml", DEALS, f"{DEALS}\n  supply_sources: [ADX]")
    assert applied.run("apply", "--auto-approve").code == 0
    campaign_id = applied.remote_id("mediamath.Campaign/winter-sale")
    exported = copy_example("mediamath", tmp_path / "exported", mm_server.url, CREDENTIALS)
    for path in exported.root.glob("*.yaml"):
        if path.name != "reconciler.yaml":
            path.unlink()
    assert exported.run("export", "--provider", "mediamath", "--campaign", campaign_id).code == 0
    written = exported.root / "mediamath" / "strategy-targeting.yaml"
    spec = [d for d in yaml.safe_load_all(written.read_text(encoding="utf-8")) if d][0]["spec"]
    assert (spec["deals"], spec["supply_sources"]) == (["ACME-PREMIUM-2026"], ["ADX"])
    assert exported.run("plan", "--detailed-exitcode").code == 0
    shutil.rmtree(exported.root / "mediamath")


def test_an_unknown_deal_fails_with_the_closest_codes(applied: ExampleWorkspace) -> None:
    applied.edit("targeting.yaml", DEALS, "deals: [ACME-PREMIUM-2025]")
    result = applied.run("apply", "--auto-approve")
    assert result.code == 1, result
    assert ("deals: 'ACME-PREMIUM-2025' is not a deal_identifier of the API's deals; did you mean "
            "'ACME-PREMIUM-2026'") in result.err, result
