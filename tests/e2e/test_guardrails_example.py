"""The money guardrails in ``plan`` on the MediaMath example, against the sandbox's Reporting API.

Aspects covered (issues 6 and 14), every message with both numbers and the currency:
- lowering a campaign's ``total_budget`` below its spend to date is an error (exit 1, nothing
  saved); within 10 % above spend it is a warning and the plan goes ahead; ``--skip-guardrails``
  allows the cut and the plan says so; a budget raise asks the Reporting API nothing;
- budget flights: a flight cut below what was spent under it, and a destroy deleting a flight or
  deactivating a campaign with spend (flights totalling less than the campaign's spend:
  ``tests/reporting/test_guardrails.py``, the sandbox books all spend on the current flight);
- reactivation: a campaign paused by someone else (jdoe, history says when) is not set running
  again without ``--skip-guardrails``; launching what was created paused is not a reactivation;
- the workspace's size policy (``guardrails: {max_budget_increase, max_bid}``), with no report
  request for a raise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from reconciler.sandbox.base import SandboxServer
from tests.e2e.conftest import ExampleWorkspace, copy_example, serve

CREDENTIALS = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}
CAMPAIGN = "mediamath.Campaign/winter-sale"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    yield from serve(["mediamath", "mediamath-reporting", "mediamath-auth"])


@pytest.fixture
def spent(server: SandboxServer, tmp_path: Path) -> ExampleWorkspace:
    """The example applied, with 42,000.50 spent to date on the 50,000 winter sale campaign."""
    ws = copy_example("mediamath", tmp_path / "mediamath", server.url, CREDENTIALS)
    assert ws.run("apply", "--auto-approve").code == 0
    campaign_id = int(ws.remote_id(CAMPAIGN))
    # the campaign runs from December: let the reporting clock reach mid-January
    clock = requests.post(
        f"{server.url}/_sandbox/mediamath-reporting/clock", json={"now": "2027-01-15T12:00:00Z"}, timeout=10
    )
    assert clock.status_code == 200, clock.text
    r = requests.post(
        f"{server.url}/_sandbox/mediamath-reporting/spend", json={"campaign_id": campaign_id, "spend": 42000.50}, timeout=10
    )
    assert r.status_code == 200, r.text
    return ws


def reporting_requests(server: SandboxServer) -> int:
    routes = requests.get(f"{server.url}/_sandbox/counters", timeout=10).json()["routes"]
    return sum(n for key, n in routes.items() if key.startswith("mediamath-reporting "))


def set_budget(ws: ExampleWorkspace, amount: int) -> None:
    ws.edit("campaigns.yaml", "total_budget: 50000", f"total_budget: {amount}")


def test_budget_below_spend_is_refused_with_both_numbers(spent: ExampleWorkspace, tmp_path: Path) -> None:
    set_budget(spent, 40000)
    out = tmp_path / "plan.json"
    result = spent.run("plan", "--out", str(out))
    assert result.code == 1, result
    assert f"{CAMPAIGN}: total_budget 40,000.00 USD is below spend to date 42,000.50 USD" in result.err
    assert "--skip-guardrails" in result.err
    assert not out.exists()


def test_budget_within_ten_percent_of_spend_is_a_warning(spent: ExampleWorkspace) -> None:
    set_budget(spent, 45000)  # 7 % above spend
    result = spent.run("plan", "--detailed-exitcode")
    assert result.code == 2, result  # the plan goes ahead
    assert f"Warning: {CAMPAIGN}: total_budget 45,000.00 USD is within 10% of spend to date 42,000.50 USD" in result.err
    # the plan summary puts the finding first, in text, Markdown and JSON
    finding = f"{CAMPAIGN}: total_budget 45,000.00 USD is within 10% of spend to date 42,000.50 USD"
    assert result.out.splitlines()[1].startswith(f"  ! guardrail (warning): {finding}"), result.out
    markdown = spent.run("plan", "--format", "markdown").out
    assert markdown.index("> **Guardrail (warning):** " + finding) < markdown.index("**Summary:**")
    assert markdown.count(finding) == 1  # not repeated as a warning
    summary = json.loads(spent.run("plan", "--format", "json").out)["summary"]
    assert summary["attention"][0] == {"kind": "guardrail", "message": finding, "severity": "warning", "overridden": False}
    assert summary["guardrails_skipped"] is False


def test_skip_guardrails_allows_the_cut_and_says_so(spent: ExampleWorkspace, tmp_path: Path) -> None:
    set_budget(spent, 40000)
    out = tmp_path / "plan.json"
    result = spent.run("plan", "--skip-guardrails", "--out", str(out))
    assert result.code == 0, result
    assert "guardrails skipped" in result.err
    as_json = spent.run("plan", "--skip-guardrails", "--format", "json")
    assert "guardrails skipped" in as_json.out  # the saved/JSON plan carries the note too
    # the summary (text, `show`, Markdown, JSON) says the refusal is overridden, not just stderr
    finding = f"{CAMPAIGN}: total_budget 40,000.00 USD is below spend to date 42,000.50 USD"
    skipped = ("this plan was made with --skip-guardrails: 1 guardrail refusal below is overridden, "
               "and apply will not refuse on it")
    for text in (result.out, spent.run("show", str(out)).out):
        lines = text.splitlines()
        assert lines[1] == f"  ! guardrails skipped: {skipped}", text
        assert lines[2].startswith(f"  ! guardrail (refusal overridden by --skip-guardrails): {finding}"), text
    markdown = spent.run("show", str(out), "--format", "markdown").out
    assert f"> **Guardrails skipped:** {skipped}" in markdown
    assert f"> **Guardrail (refusal overridden by --skip-guardrails):** {finding}" in markdown
    summary = json.loads(as_json.out)["summary"]
    assert summary["guardrails_skipped"] is True
    assert summary["attention"][:2] == [
        {"kind": "guardrails_skipped", "message": skipped},
        {"kind": "guardrail", "message": finding, "severity": "error", "overridden": True}]
    applied = spent.run("apply", str(out))
    assert applied.code == 0, applied


def test_a_budget_raise_asks_the_reporting_api_nothing(spent: ExampleWorkspace, server: SandboxServer) -> None:
    before = reporting_requests(server)
    set_budget(spent, 60000)
    assert spent.run("plan").code == 0
    assert reporting_requests(server) == before


FLIGHT = "mediamath.BudgetFlight/winter-sale-main"


def test_a_flight_cut_below_its_spend_is_refused(spent: ExampleWorkspace) -> None:
    spent.edit("budget-flights.yaml", "total_budget: 50000", "total_budget: 30000")
    result = spent.run("plan")
    assert result.code == 1, result
    assert f"{FLIGHT}: total_budget 30,000.00 USD is below spend to date 42,000.50 USD" in result.err
    assert result.err.count(FLIGHT) == 1  # one message for it, not one per rule


def test_destroying_money_is_refused(spent: ExampleWorkspace) -> None:
    spent.edit("campaigns.yaml", "prevent_destroy: true", "prevent_destroy: false")
    spent.run("apply", "--auto-approve")  # records the lifecycle change
    result = spent.run("destroy", "--auto-approve")
    assert result.code == 1, result
    assert f"{FLIGHT}: deleting this budget flight, which has spent 42,000.50 USD of its budget 50,000.00 USD" in result.err
    assert f"{CAMPAIGN}: deactivating this campaign, which has spent 42,000.50 USD of its budget 50,000.00 USD" in result.err
    assert spent.run("state", "list").out.count("mediamath.") == 15  # nothing was destroyed
    forced = spent.run("destroy", "--auto-approve", "--skip-guardrails")
    assert forced.code == 0, forced
    assert "guardrails skipped (--skip-guardrails)" in forced.err


def test_reactivating_what_someone_paused_is_refused(spent: ExampleWorkspace, server: SandboxServer) -> None:
    spent.edit("campaigns.yaml", "total_budget: 50000", "total_budget: 50000\n  status: true")
    launched = spent.run("apply", "--auto-approve")  # created paused, never running: a launch is fine
    assert launched.code == 0, launched
    campaign_id = int(spent.remote_id(CAMPAIGN))
    paused = requests.post(f"{server.url}/_sandbox/mediamath/edit",
                           json={"collection": "campaigns", "id": campaign_id, "fields": {"status": "0"}}, timeout=10)
    assert paused.status_code == 200, paused.text
    result = spent.run("plan")
    assert result.code == 1, result
    assert (f"{CAMPAIGN}: status false -> true reactivates this Campaign, paused by jdoe at " in result.err
            and "it would spend again (budget 50,000.00 USD, spent 42,000.50 USD to date)" in result.err)
    allowed = spent.run("plan", "--skip-guardrails", "--detailed-exitcode")
    assert allowed.code == 2 and "guardrails skipped (--skip-guardrails)" in allowed.err


def test_the_workspace_size_policy(server: SandboxServer, tmp_path: Path) -> None:
    ws = copy_example("mediamath", tmp_path / "mediamath", server.url, CREDENTIALS)
    assert ws.run("apply", "--auto-approve").code == 0
    config = ws.root / "reconciler.yaml"
    config.write_text(config.read_text() + "guardrails: {max_budget_increase: 20%, max_bid: 5}\n", encoding="utf-8")
    before = reporting_requests(server)
    set_budget(ws, 70000)
    ws.edit("strategies.yaml", "max_bid: 6", "max_bid: 7")
    result = ws.run("plan")
    assert result.code == 1, result
    assert (f"{CAMPAIGN}: total_budget 50,000.00 USD -> 70,000.00 USD is a raise of 20,000.00 USD (+40.00 %), "
            "above the workspace limit max_budget_increase 20 %") in result.err
    assert ("mediamath.Strategy/winter-retargeting: max_bid 7.00 USD is above the workspace limit max_bid 5.00 USD"
            in result.err)
    assert reporting_requests(server) == before  # raises and bids need no spend
    ws.edit("campaigns.yaml", "total_budget: 70000", "total_budget: 59000")  # +18 %: within the limit
    ws.edit("strategies.yaml", "max_bid: 7", "max_bid: 5")
    assert ws.run("plan").code == 0


def test_a_saved_plan_is_checked_again_when_applied(spent: ExampleWorkspace, server: SandboxServer, tmp_path: Path) -> None:
    """Spend moves between plan (on the pull request) and apply (on merge): the saved plan's
    writes pass the guardrails again, or apply refuses; a plan made with --skip-guardrails says so."""
    set_budget(spent, 45000)  # within 10 % above spend: a warning, the plan is saved
    saved = tmp_path / "plan.json"
    assert spent.run("plan", "--out", str(saved)).code == 0
    campaign_id = int(spent.remote_id(CAMPAIGN))
    more = requests.post(f"{server.url}/_sandbox/mediamath-reporting/spend",
                         json={"campaign_id": campaign_id, "spend": 46000}, timeout=10)
    assert more.status_code == 200, more.text
    refused = spent.run("apply", str(saved))
    assert refused.code == 1, refused
    assert f"{CAMPAIGN}: total_budget 45,000.00 USD is below spend to date 46,000.00 USD" in refused.err
    skipped = tmp_path / "skipped.json"
    assert spent.run("plan", "--skip-guardrails", "--out", str(skipped)).code == 0
    applied = spent.run("apply", str(skipped))
    assert applied.code == 0, applied
    assert f"{skipped} was made with --skip-guardrails" in applied.err


def test_deactivating_an_advertiser_others_still_run_campaigns_under_is_refused(
    server: SandboxServer, tmp_path: Path
) -> None:
    """Another workspace (or environment, or the console) runs a campaign under the advertiser:
    destroying this workspace would deactivate the advertiser and stop that campaign too."""
    from reconciler.providers.base import ProviderConfig
    from reconciler.providers.mediamath.provider import MediaMathProvider

    ws = copy_example("mediamath", tmp_path / "mediamath", server.url, CREDENTIALS)
    ws.edit("campaigns.yaml", "prevent_destroy: true", "prevent_destroy: false")
    assert ws.run("apply", "--auto-approve").code == 0
    advertiser = ws.remote_id("mediamath.Advertiser/acme-shoes")
    provider = MediaMathProvider(ProviderConfig(name="mediamath", endpoint=f"{server.url}/mediamath",
                                                credentials=CREDENTIALS, options={}, workspace_dir=tmp_path))
    try:
        theirs = provider.create("Campaign", {
            "advertiser_id": advertiser, "name": "Partner Always-On", "ad_server_id": 9, "service_type": "SELF",
            "currency_code": "USD", "zone_name": "America/New_York", "start_date": "2026-12-01T00:00:00",
            "end_date": "2027-06-30T23:59:59", "goal_type": "cpa", "goal_value": 10, "total_budget": 5000,
            "use_mm_freq": False, "status": True,
        })
    finally:
        provider.close()
    result = ws.run("destroy", "--auto-approve")
    assert result.code == 1, result
    assert (f"mediamath.Advertiser/acme-shoes: deactivating this Advertiser stops 1 active campaign this plan "
            f"does not deactivate: campaign {theirs.remote_id} 'Partner Always-On'") in result.err
    assert "mediamath.Agency/acme-agency: deactivating" not in result.err  # its one advertiser is in the plan
    assert ws.run("state", "list").out.count("mediamath.") == 15  # nothing was destroyed
