"""``reconciler drift`` exit codes and what it names, on ``examples/mediamath`` over HTTP (issue 18.6).

Covers: in sync -> 0; a field changed out of band -> 2; an object deleted out of band -> 2; an
object made by hand under a managed campaign is reported by its live name and parent (not
``mediamath.Strategy/<id>``) and exits 0, or 2 with ``--fail-on-unmanaged``; a strategy
deactivated by removing its document is not "unmanaged" afterwards (counted as switched off);
after ``destroy`` the coverage says "nothing managed", not "100.0% (0 of 0)".
"""

from __future__ import annotations

import json
import re

from tests.e2e.conftest import ExampleWorkspace, Sandbox

STRATEGY = "mediamath.Strategy/winter-prospecting"
CAMPAIGN = "mediamath.Campaign/winter-sale"


def managed(ws: ExampleWorkspace) -> int:
    return len(ws.run("state", "list").out.split())


def test_in_sync_is_0_changed_is_2_missing_is_2(mm: Sandbox, applied: ExampleWorkspace) -> None:
    clean = applied.run("drift")
    assert clean.code == 0, clean
    n = managed(applied)
    assert clean.out.startswith(f"No drift: {n} managed objects match their last apply; coverage 100.0%"), clean

    mm.control("POST", "mediamath/edit", {"collection": "strategies", "id": applied.remote_id(STRATEGY),
                                          "fields": {"max_bid": "7.25"}, "user": "jdoe"})
    changed = applied.run("drift")
    assert changed.code == 2, changed

    flight = applied.remote_id("mediamath.BudgetFlight/spring-launch-main")
    mm.control("POST", "mediamath/delete", {"collection": "budget_flights", "id": flight, "user": "jdoe"})
    missing = applied.run("drift", "--target", "mediamath.BudgetFlight/spring-launch-main")
    assert missing.code == 2, missing
    assert f"- mediamath.BudgetFlight/spring-launch-main: missing (id {flight} was deleted" in missing.out, missing


def test_unmanaged_objects_are_named_by_live_name_and_parent_and_exit_0(
    mm: Sandbox, applied: ExampleWorkspace
) -> None:
    campaign_id = applied.remote_id(CAMPAIGN)
    seeded = mm.control("POST", "seed", {"api": "mediamath", "name": "entities", "data": {"strategies": [
        {"name": "Copy of Winter Prospecting", "campaign_id": int(campaign_id), "status": True},
    ]}})
    [hand_made] = seeded["created"]["strategies"]

    report = applied.run("drift")
    assert report.code == 0, report  # reported, not drift
    line = next(li for li in report.out.splitlines() if li.startswith("?"))
    assert line == (f'? mediamath.Strategy "Copy of Winter Prospecting" (id {hand_made}) under {CAMPAIGN}: '
                    "unmanaged (not in any manifest)"), report.out
    assert f"mediamath.Strategy/{hand_made}" not in report.out
    assert "--fail-on-unmanaged" in report.out
    n = managed(applied)
    assert re.search(rf"No drift: {n} managed objects match their last apply; 1 unmanaged; coverage "
                     rf"{n / (n + 1) * 100:.1f}% \({n} of {n + 1} live objects managed\)\.", report.out), report.out

    strict = applied.run("drift", "--fail-on-unmanaged")
    assert strict.code == 2, strict

    data = json.loads(applied.run("drift", "--format", "json").out)
    [item] = [i for i in data["items"] if i["status"] == "unmanaged"]
    assert (item["address"], item["name"], item["parent"], item["remote_id"]) == (
        None, "Copy of Winter Prospecting", CAMPAIGN, str(hand_made))
    assert data["has_drift"] is False and data["has_unmanaged"] is True


def test_a_deactivated_strategy_is_not_unmanaged_forever(applied: ExampleWorkspace) -> None:
    text = (applied.root / "strategies.yaml").read_text(encoding="utf-8")
    head, sep, _ = text.partition("---\n# yaml-language-server: $schema=../../schemas/mediamath/Strategy.schema.json\n"
                                  "apiVersion: mediamath/v1\nkind: Strategy\nmetadata:\n  name: winter-retargeting")
    assert sep
    rest = text[len(head) + len(sep):]
    rest = rest[rest.index("---\n"):]  # drop winter-retargeting's document
    (applied.root / "strategies.yaml").write_text(head + rest, encoding="utf-8")
    removed = applied.run("apply", "--auto-approve")
    assert removed.code == 0, removed

    report = applied.run("drift")
    assert report.code == 0, report
    assert "unmanaged" not in report.out.replace("0 unmanaged", ""), report.out
    n = managed(applied)
    assert report.out.strip() == (
        f"No drift: {n} managed objects match their last apply; coverage 100.0% ({n} of {n} live objects managed); "
        "1 switched-off object not counted."
    ), report.out


def test_after_destroy_coverage_says_nothing_managed(applied: ExampleWorkspace) -> None:
    for path in applied.root.glob("*.yaml"):  # prevent_destroy on a campaign: lift it first
        path.write_text(path.read_text(encoding="utf-8").replace("prevent_destroy: true", "prevent_destroy: false"),
                        encoding="utf-8")
    assert applied.run("apply", "--auto-approve").code == 0
    destroyed = applied.run("destroy", "--auto-approve", "--skip-guardrails")  # no Reporting API here
    assert destroyed.code == 0, destroyed
    report = applied.run("drift")
    assert report.code == 0, report
    assert "0 of 0" not in report.out and "100.0%" not in report.out, report.out
    assert report.out.strip() == "No drift: nothing managed.", report.out
