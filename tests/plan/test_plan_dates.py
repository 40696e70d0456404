"""Date-times in plans, on the embedded MediaMath sandbox: shown one way for create and update,
and hand-written times compared in the campaign's zone.

Aspects: a campaign's times in its zone with the offset (as written, naive, or in UTC: the same
display), a strategy's in UTC with ``Z``, for a create and for the update that follows; an
imported campaign whose manifest leaves out ``zone_name`` and writes its times by hand in that
zone shows no change (it used to differ by the zone's offset), and applying an edit of it leaves
no change behind; the JSON plan keeps the values as they are compared.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Result, invoke

WORKSPACE = "apiVersion: reconciler/v1\nkind: Workspace\nproviders:\n  mediamath:\n    endpoint: sandbox\n"

PARENTS = """\
apiVersion: mediamath/v1
kind: Organization
metadata: {name: acme-org}
spec: {name: ACME Org}
---
apiVersion: mediamath/v1
kind: Agency
metadata: {name: agency}
spec: {organization_id: {ref: Organization/acme-org}, name: Dates Agency, status: true}
---
apiVersion: mediamath/v1
kind: Advertiser
metadata: {name: shoes}
spec: {agency_id: {ref: Agency/agency}, name: shoes, domain: "https://shoes.example", ad_server_id: 9, vertical_id: 12}
"""

CAMPAIGN = """\
---
apiVersion: mediamath/v1
kind: Campaign
metadata: {{name: holiday}}
spec:
  advertiser_id: {{ref: Advertiser/shoes}}
  name: Holiday
  ad_server_id: 9
  service_type: SELF
  currency_code: USD
{zone}  start_date: "{start}"
  end_date: "{end}"
  goal_type: cpc
  goal_value: 0.75
  total_budget: 10000
  use_mm_freq: false
"""

STRATEGY = """\
---
apiVersion: mediamath/v1
kind: Strategy
metadata: {{name: late}}
spec:
  campaign_id: {{ref: Campaign/holiday}}
  name: Late
  type: GBO
  goal_type: cpc
  goal_value: 0.6
  budget: 1000
  max_bid: 3
  pacing_type: even
  pacing_interval: day
  pacing_amount: 100
  use_campaign_start: true
  use_campaign_end: false
  end_date: "{end}"
  media_type: DISPLAY
"""

NEW_YORK = "  zone_name: America/New_York\n"


def workspace(root: Path, *, zone: str = NEW_YORK, start: str = "2026-12-01T00:00:00",
              end: str = "2026-12-24T23:59:59", strategy_end: str = "2026-12-24T23:00:00Z") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text(WORKSPACE)
    (root / "manifests.yaml").write_text(
        PARENTS + CAMPAIGN.format(zone=zone, start=start, end=end) + STRATEGY.format(end=strategy_end)
    )


def run(root: Path, *args: str) -> Result:
    result = invoke(root, *args)
    assert result.code in (0, 2), result
    return result


def field_lines(text: str, name: str) -> list[str]:
    """The plan's lines for field ``name``, spaces squeezed (``+ end_date = "..."``)."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip().startswith(("+ " + name, "~ " + name))]


def test_create_and_update_show_dates_the_same_way(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    # naive (read in the zone), an offset and UTC: three ways of writing New York times
    workspace(root, start="2026-12-01T05:00:00Z", end="2026-12-24T23:59:59-05:00")
    created = run(root, "plan").out
    assert field_lines(created, "start_date") == ['+ start_date = "2026-12-01T00:00:00-05:00"']
    assert field_lines(created, "end_date") == [
        '+ end_date = "2026-12-24T23:59:59-05:00"',  # the campaign, in its zone
        '+ end_date = "2026-12-24T23:00:00Z"',  # the strategy, in UTC
    ]
    markdown = run(root, "plan", "--format", "markdown").out
    assert '+ start_date = "2026-12-01T00:00:00-05:00"' in markdown
    assert run(root, "apply", "--auto-approve", "--quiet").code == 0

    # extend both to 23:59 New York time on the 25th, written as naive and as an offset
    workspace(root, start="2026-12-01T00:00:00", end="2026-12-25T23:59:59", strategy_end="2026-12-25T23:59:59-05:00")
    updated = run(root, "plan", "--detailed-exitcode")
    assert updated.code == 2, updated
    assert field_lines(updated.out, "end_date") == [
        '~ end_date = "2026-12-24T23:59:59-05:00" -> "2026-12-25T23:59:59-05:00"',  # the campaign, in its zone
        '~ end_date = "2026-12-24T23:00:00Z" -> "2026-12-26T04:59:59Z"',  # the strategy, in UTC
    ], updated.out
    assert "start_date" not in updated.out  # 00:00 New York == 05:00Z: no change
    data = json.loads(run(root, "plan", "--format", "json").out)
    campaign = next(c for c in data["resource_changes"] if c["address"] == "mediamath.Campaign/holiday")
    assert campaign["field_changes"] == [{"path": "end_date", "before": "2026-12-25T04:59:59Z", "after": "2026-12-26T04:59:59Z"}]


def test_hand_written_dates_of_an_imported_campaign_compare_in_its_zone(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    workspace(root)  # zone_name: America/New_York, times naive
    assert run(root, "apply", "--auto-approve", "--quiet").code == 0
    remote_id = json.loads(run(root, "state", "show", "mediamath.Campaign/holiday").out)["remote_id"]
    assert run(root, "state", "rm", "mediamath.Campaign/holiday").code == 0
    assert run(root, "import", "mediamath.Campaign/holiday", str(remote_id)).code == 0

    # the manifest written by hand: no zone_name (the campaign has one), the same local times
    workspace(root, zone="")
    plan = run(root, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan  # not "05:00:00Z -> 00:00:00Z"

    workspace(root, zone="", end="2026-12-31T23:59:59")
    edited = run(root, "plan", "--detailed-exitcode")
    assert edited.code == 2 and field_lines(edited.out, "end_date") == [
        '~ end_date = "2026-12-25T04:59:59Z" -> "2027-01-01T04:59:59Z"'], edited.out  # no zone named: UTC
    assert run(root, "apply", "--auto-approve", "--quiet").code == 0
    assert run(root, "plan", "--detailed-exitcode").code == 0  # what apply sent is what the plan compared
    assert run(root, "drift").code == 0
