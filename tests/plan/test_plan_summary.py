"""The plan summary a reviewer reads first (text, Markdown, JSON), on the embedded MediaMath sandbox.

Aspects: changes grouped by provider and resource tree (organization › agency › advertiser ›
campaign, strategies counted under their campaign); money with the campaign's currency, old ->
new, delta and percentage; budget totals per advertiser (USD and EUR kept apart) and overall;
reactivations first; MediaMath deactivations counted as such; lifecycle-only and move-only plans
counted and shown (never "No changes", never all zeros while exiting 2); JSON keeps the
Terraform part and carries the same summary.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import Workspace, ws  # noqa: F401 - ws: the memory-provider workspace fixture
from tests.support.cli import Result, invoke

WORKSPACE = """\
apiVersion: reconciler/v1
kind: Workspace
providers:
  mediamath:
    endpoint: sandbox
"""

TOP = """\
apiVersion: mediamath/v1
kind: Organization
metadata: {name: acme-org}
spec: {name: ACME Org}
---
apiVersion: mediamath/v1
kind: Agency
metadata: {name: agency}
spec: {organization_id: {ref: Organization/acme-org}, name: Summary Agency, status: true}
"""

ADVERTISER = """\
---
apiVersion: mediamath/v1
kind: Advertiser
metadata: {{name: {name}}}
spec: {{agency_id: {{ref: Agency/agency}}, name: {name}, domain: "https://{name}.example", ad_server_id: 9, vertical_id: 12, status: true}}
"""

CAMPAIGN = """\
---
apiVersion: mediamath/v1
kind: Campaign
metadata: {{name: {name}}}
spec:
  advertiser_id: {{ref: Advertiser/{advertiser}}}
  name: {name}
  ad_server_id: 9
  service_type: SELF
  currency_code: {currency}
  zone_name: America/New_York
  start_date: "2027-02-01T00:00:00"
  end_date: "2027-04-30T23:59:59"
  goal_type: cpc
  goal_value: 0.75
  total_budget: {budget}
  use_mm_freq: false
"""

STRATEGY = """\
---
apiVersion: mediamath/v1
kind: Strategy
metadata: {{name: {name}}}
spec:
  campaign_id: {{ref: Campaign/{campaign}}}
  name: {name}
  type: GBO
  goal_type: cpc
  goal_value: 0.6
  budget: {budget}
  max_bid: 3
  pacing_type: even
  pacing_interval: day
  pacing_amount: 100
  use_campaign_start: true
  use_campaign_end: true
  media_type: DISPLAY
  status: {status}
"""


class Estate:
    """Two advertisers: shoes (a USD campaign with three strategies), hats (an EUR campaign)."""

    def __init__(self, root: Path) -> None:
        self.ws = Workspace(root)
        self.root = root
        root.mkdir(parents=True)
        self.ws.write("reconciler.yaml", WORKSPACE)
        self.campaigns = {"shoes-usd": ("shoes", "USD", 100000), "hats-eur": ("hats", "EUR", 40000)}
        self.strategies = {"s1": ("shoes-usd", 10000, "false"), "s2": ("shoes-usd", 10000, "false"),
                           "s3": ("shoes-usd", 10000, "false"), "h1": ("hats-eur", 5000, "false")}
        self.write()

    def write(self) -> None:
        text = TOP + ADVERTISER.format(name="shoes") + ADVERTISER.format(name="hats")
        for name, (advertiser, currency, budget) in self.campaigns.items():
            text += CAMPAIGN.format(name=name, advertiser=advertiser, currency=currency, budget=budget)
        for name, (campaign, budget, status) in self.strategies.items():
            text += STRATEGY.format(name=name, campaign=campaign, budget=budget, status=status)
        self.ws.write("manifests.yaml", text)

    def run(self, *args: str) -> Result:
        return invoke(self.root, *args)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Estate:
    estate = Estate(tmp_path_factory.mktemp("summary") / "ws")
    result = estate.run("apply", "--auto-approve", "--quiet")
    assert result.code == 0, result
    return estate


def _budget_plan(estate: Estate) -> tuple[Result, Result, dict[str, object]]:
    estate.campaigns["shoes-usd"] = ("shoes", "USD", 108000)  # +8 %
    estate.campaigns["hats-eur"] = ("hats", "EUR", 44000)  # +10 %
    estate.strategies["s1"] = ("shoes-usd", 12000, "false")
    estate.strategies["h2"] = ("hats-eur", 2000, "false")  # new
    estate.write()
    try:
        text = estate.run("plan", "--detailed-exitcode")
        markdown = estate.run("plan", "--format", "markdown")
        as_json = estate.run("plan", "--format", "json")
    finally:
        estate.campaigns["shoes-usd"] = ("shoes", "USD", 100000)
        estate.campaigns["hats-eur"] = ("hats", "EUR", 40000)
        estate.strategies["s1"] = ("shoes-usd", 10000, "false")
        del estate.strategies["h2"]
        estate.write()
    assert text.code == 2, text
    return text, markdown, json.loads(as_json.out)


def test_money_deltas_and_totals_per_advertiser_with_currency(applied: Estate) -> None:
    text, markdown, data = _budget_plan(applied)
    lines = text.out.splitlines()
    assert lines[0] == "Summary: 4 changes (1 to create, 3 to update), 7 unchanged", text.out
    assert "  mediamath: 1 to create, 3 to update" in lines
    # hats: a campaign raise in EUR and a new strategy; shoes: USD, never mixed with EUR
    assert lines[2] == "    Organization acme-org › Agency agency: 1 to create, 3 to update"
    hats = lines.index("      Advertiser hats: 1 to create, 1 to update")
    assert lines[hats + 1] == "        budgets: Campaign total_budget +4,000.00 EUR (+10.0 %); Strategy budget +2,000.00 EUR (+40.0 %)"
    assert lines[hats + 2] == "        Campaign hats-eur (to update): 1 to create, 1 to update"
    assert lines[hats + 3] == "          total_budget 40,000.00 -> 44,000.00 EUR (+4,000.00, +10.0 %)"
    assert lines[hats + 4] == "          Strategy: 1 to create"
    shoes = lines.index("      Advertiser shoes: 2 to update")
    assert lines[shoes + 1] == "        budgets: Campaign total_budget +8,000.00 USD (+8.0 %); Strategy budget +2,000.00 USD (+6.7 %)"
    assert lines[shoes + 3] == "          total_budget 100,000.00 -> 108,000.00 USD (+8,000.00, +8.0 %)"
    assert lines[shoes + 4] == "          Strategy: 1 to update"
    overall = next(line for line in lines if line.startswith("  Budget totals: "))
    assert overall == ("  Budget totals: Campaign total_budget +4,000.00 EUR (+10.0 %); Campaign total_budget "
                       "+8,000.00 USD (+8.0 %); Strategy budget +2,000.00 EUR (+40.0 %); Strategy budget +2,000.00 USD (+6.7 %)")
    # each money field line says its currency, delta and percentage
    assert "      ~ budget = 10000 -> 12000  # +2,000.00 USD (+20.0 %)" in lines
    assert "      + budget             = 2000  # 2,000.00 EUR" in lines
    assert lines.index("reconciler will perform the following actions:") > shoes  # the summary comes first

    md = markdown.out
    assert md.index("**Summary:** 4 changes (1 to create, 3 to update), 7 unchanged") < md.index("<details>")
    assert "  - Organization <code>acme-org</code> › Agency <code>agency</code>: 1 to create, 3 to update" in md
    assert "    - Advertiser <code>hats</code>: 1 to create, 1 to update" in md
    assert "      - budgets: **Campaign total_budget +8,000.00 USD (+8.0 %); Strategy budget +2,000.00 USD (+6.7 %)**" in md
    assert "        - total_budget 100,000.00 → 108,000.00 USD (+8,000.00, +8.0 %)" in md
    assert "- **Budget totals**: Campaign total_budget +4,000.00 EUR (+10.0 %);" in md

    summary = data["summary"]
    assert {k: summary[k] for k in ("create", "update", "no-op", "changes", "unchanged")} == {
        "create": 1, "update": 3, "no-op": 7, "changes": 4, "unchanged": 7}
    assert [c["change"]["actions"] for c in data["resource_changes"] if c["address"] == "mediamath.Campaign/hats-eur"] == [["update"]]
    (provider,) = summary["providers"]
    shoes_group = provider["groups"][0]["children"][0]["children"][1]  # organization > agency > [hats, shoes]
    assert (shoes_group["name"], shoes_group["counts"]) == ("shoes", {"update": 2})
    assert shoes_group["totals"][0] == {"kind": "Campaign", "field": "total_budget", "currency": "USD", "before": 100000,
                                        "after": 108000, "delta": 8000, "percent": 8.0}
    assert {"address": "mediamath.Strategy/s1", "field": "budget", "currency": "USD", "before": 10000, "after": 12000,
            "delta": 2000, "percent": 20.0} in summary["money_changes"]


def test_a_reactivation_comes_first(applied: Estate) -> None:
    applied.strategies["s2"] = ("shoes-usd", 10000, "true")
    applied.write()
    try:
        text = applied.run("plan")
        data = json.loads(applied.run("plan", "--format", "json").out)
    finally:
        applied.strategies["s2"] = ("shoes-usd", 10000, "false")
        applied.write()
    lines = text.out.splitlines()
    assert lines[1] == "  ! reactivation: mediamath.Strategy/s2: status false -> true: it will run and spend", text.out
    assert data["summary"]["attention"] == [
        {"kind": "reactivation", "message": "mediamath.Strategy/s2: status false -> true: it will run and spend"}]


def test_deactivations_are_counted_and_said(applied: Estate) -> None:
    saved = applied.strategies.pop("s3")
    applied.write()
    try:
        text = applied.run("plan")
    finally:
        applied.strategies["s3"] = saved
        applied.write()
    assert text.out.startswith("Summary: 1 change (1 to deactivate), 9 unchanged\n"), text.out
    assert "      Campaign shoes-usd: 1 to deactivate" in text.out
    assert "will be DEACTIVATED (status=0) and forgotten" in text.out
    assert "Plan: 0 to create, 0 to update, 0 to replace, 1 to deactivate, 0 to delete," in text.out
    assert "budgets: Strategy budget -10,000.00 USD (-33.3 %)" in text.out


def test_a_lifecycle_only_change_is_counted_and_applied(tmp_path: Path) -> None:
    estate = Estate(tmp_path / "ws")
    assert estate.run("apply", "--auto-approve", "--quiet").code == 0
    path = estate.root / "manifests.yaml"
    text = path.read_text()
    assert text.count("metadata: {name: hats-eur}\n") == 1
    path.write_text(text.replace("metadata: {name: hats-eur}\n", "metadata: {name: hats-eur}\nlifecycle: {prevent_destroy: true}\n"))
    plan = estate.run("plan", "--detailed-exitcode")
    assert plan.code == 2, plan
    assert "No changes" not in plan.out
    assert plan.out.startswith("Summary: 1 change (1 lifecycle-only), 9 unchanged\n"), plan.out
    assert ("  # mediamath.Campaign/hats-eur (id " in plan.out
            and "lifecycle recorded in state only, the live object is not changed: prevent_destroy true" in plan.out)
    assert plan.out.rstrip().endswith(", 1 lifecycle only (recorded in state).")
    applied = estate.run("apply", "--auto-approve")
    assert "mediamath.Campaign/hats-eur: lifecycle recorded in state (the live object is unchanged)" in applied.out
    assert "Apply complete: 1 lifecycle recorded; 9 unchanged." in applied.out
    assert estate.run("plan", "--detailed-exitcode").code == 0
    assert json.loads(estate.run("state", "show", "mediamath.Campaign/hats-eur").out)["prevent_destroy"] is True


def test_a_moves_only_plan_says_what_it_does(ws: Workspace) -> None:  # noqa: F811 - the fixture
    assert ws.run("apply", "--auto-approve", "--quiet").code == 0
    manifests = ws.root / "manifests" / "main.yaml"
    manifests.write_text(manifests.read_text().replace("name: memo\n", "name: memo-2\n", 1))
    ws.write("manifests/moved.yaml", textwrap.dedent("""\
        apiVersion: reconciler/v1
        kind: Moved
        metadata: {name: memo}
        spec: {from: memory.Item/memo, to: memory.Item/memo-2}
        """))
    plan = ws.run("plan", "--detailed-exitcode")
    assert plan.code == 2, plan
    assert plan.out.startswith("Summary: 1 change (1 to move), 2 unchanged\n"), plan.out
    assert "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 0 to adopt, 0 manual, 1 to move (renamed in state)." in plan.out
    data = json.loads(ws.run("plan", "--format", "json").out)
    assert data["summary"]["verbs"]["move"] == 1 and data["summary"]["changes"] == 1


def test_a_currency_change_shows_both_currencies_and_no_delta(applied: Estate) -> None:
    applied.campaigns["shoes-usd"] = ("shoes", "EUR", 101000)
    applied.write()
    try:
        text = applied.run("plan")
        markdown = applied.run("plan", "--format", "markdown")
        data = json.loads(applied.run("plan", "--format", "json").out)
    finally:
        applied.campaigns["shoes-usd"] = ("shoes", "USD", 100000)
        applied.write()
    lines = text.out.splitlines()
    assert lines[1].startswith("  ! currency: mediamath.Campaign/shoes-usd: currency changes USD -> EUR: every amount "
                               "of this Campaign and under it (Strategy here) is in EUR after apply"), text.out
    assert "spend to date stays in USD" in lines[1]
    assert "      total_budget 100,000.00 USD -> 101,000.00 EUR (currency changes: no difference shown)" in lines
    assert "+1,000.00" not in text.out and "Budget totals" not in text.out and "budgets:" not in text.out, text.out
    assert "      ~ total_budget  = 100000 -> 101000  # 100,000.00 USD -> 101,000.00 EUR: the currency changes" in lines
    assert "total_budget 100,000.00 USD → 101,000.00 EUR (currency changes: no difference shown)" in markdown.out
    assert "> **Currency:** mediamath.Campaign/shoes-usd: currency changes USD -&gt; EUR" in markdown.out
    summary = data["summary"]
    assert summary["attention"][0]["kind"] == "currency"
    assert summary["totals"] == []
    assert summary["money_changes"] == [{
        "address": "mediamath.Campaign/shoes-usd", "field": "total_budget", "currency": "EUR", "before_currency": "USD",
        "before": 100000, "after": 101000, "delta": None, "percent": None}]


def test_percentages_round_half_up_and_removed_budgets_say_so(applied: Estate) -> None:
    saved = applied.campaigns.pop("hats-eur"), applied.strategies.pop("h1")
    applied.strategies["s1"] = ("shoes-usd", 10625, "false")  # +6.25 %
    applied.write()
    try:
        text = applied.run("plan")
    finally:
        applied.campaigns["hats-eur"], applied.strategies["h1"] = saved
        applied.strategies["s1"] = ("shoes-usd", 10000, "false")
        applied.write()
    assert "total_budget 40,000.00 EUR removed" in text.out, text.out
    assert "-> none" not in text.out
    assert "# +625.00 USD (+6.3 %)" in text.out
