"""After a conflict, the way out the message advises works; refusals name the real reason (issue 18.8).

``examples/mediamath`` on the MediaMath emulator over HTTP, jdoe editing between plan and apply.

Covers: a saved plan of two updates, one of which jdoe conflicts with: apply exits 3, applies the
other and advises ``reconciler apply --force-conflicts`` without the plan file; that saved plan
is now refused as stale (exit 3) saying it was applied in part; the advised command then
overwrites jdoe's value (exit 0) and the next plan is empty. A saved plan whose only change
conflicts changes nothing in the state: the advice says so (applying it again meets the same
conflict; no "stale" claim) and it is indeed not refused as stale. A plan saved before an ``import``
of one of its creates is refused as stale (exit 3, not 1), naming the imported address.
"""

from __future__ import annotations

from tests.e2e.conftest import ExampleWorkspace, Sandbox

PROSPECTING = "mediamath.Strategy/winter-prospecting"
RETARGETING = "mediamath.Strategy/winter-retargeting"

EXTRA = """\
---
apiVersion: mediamath/v1
kind: Strategy
metadata:
  name: winter-extra
spec:
  campaign_id: {ref: Campaign/winter-sale}
  name: Winter Extra
  type: GBO
  goal_type: cpa
  goal_value: 15
  budget: 2000
  max_bid: 4.5
  pacing_type: even
  pacing_interval: day
  pacing_amount: 70
  use_campaign_start: true
  use_campaign_end: true
  media_type: DISPLAY
"""


def max_bid(mm: Sandbox, ws: ExampleWorkspace, address: str) -> float:
    entity = mm.control("POST", "mediamath/get", {"collection": "strategies", "id": ws.remote_id(address)})
    return float(entity["max_bid"][0]["value"])


def test_the_advised_way_out_of_a_conflict_works(mm: Sandbox, applied: ExampleWorkspace) -> None:
    applied.edit("strategies.yaml", "max_bid: 4.5", "max_bid: 5.5")  # winter-prospecting
    applied.edit("strategies.yaml", "max_bid: 6\n", "max_bid: 6.5\n")  # winter-retargeting
    plan_file = applied.root / "bids.plan"
    assert applied.run("plan", "--out", str(plan_file)).code == 0
    mm.control("POST", "mediamath/edit", {"collection": "strategies", "id": applied.remote_id(PROSPECTING),
                                          "fields": {"max_bid": "9.25"}, "user": "jdoe"})

    conflicted = applied.run("apply", str(plan_file))
    assert conflicted.code == 3, conflicted
    assert max_bid(mm, applied, RETARGETING) == 6.5  # independent work was done
    assert max_bid(mm, applied, PROSPECTING) == 9.25  # jdoe's value kept
    assert "'reconciler apply --force-conflicts' (not with the saved plan" in conflicted.err, conflicted.err
    assert f"'reconciler drift --accept {PROSPECTING}'" in conflicted.err

    # what users tried before: the saved plan again. Refused, and it says why.
    again = applied.run("apply", "--force-conflicts", str(plan_file))
    assert again.code == 3, again
    assert (f"stale plan: this plan was applied already, at least in part: {RETARGETING} is already as this "
            "plan would leave it") in again.err, again.err

    # the advised way out
    forced = applied.run("apply", "--force-conflicts", "--auto-approve")
    assert forced.code == 0, forced
    [line] = [li for li in forced.out.splitlines() if "max_bid = 9.25 -> 5.5" in li]
    assert "overwrites jdoe's change of" in line, forced.out  # the fresh plan names whose change
    assert max_bid(mm, applied, PROSPECTING) == 5.5
    assert applied.run("plan", "--detailed-exitcode").code == 0


def test_a_plan_saved_before_an_import_is_a_stale_plan(mm: Sandbox, applied: ExampleWorkspace) -> None:
    with (applied.root / "strategies.yaml").open("a", encoding="utf-8") as fh:
        fh.write(EXTRA)
    plan_file = applied.root / "extra.plan"
    planned = applied.run("plan", "--out", str(plan_file))
    assert planned.code == 0 and "mediamath.Strategy/winter-extra" in planned.out, planned
    campaign = int(applied.remote_id("mediamath.Campaign/winter-sale"))
    seeded = mm.control("POST", "seed", {"api": "mediamath", "name": "entities", "data": {"strategies": [
        {"name": "Winter Extra", "campaign_id": campaign}]}})
    [made] = seeded["created"]["strategies"]
    assert applied.run("import", "mediamath.Strategy/winter-extra", str(made)).code == 0

    result = applied.run("apply", str(plan_file))
    assert result.code == 3, result
    assert result.err.startswith(
        "Error: stale plan: mediamath.Strategy/winter-extra entered the state since this plan was made "
        "(imported, or created by another run)."), result.err


def test_a_plan_that_only_conflicted_is_not_called_stale(mm: Sandbox, applied: ExampleWorkspace) -> None:
    applied.edit("strategies.yaml", "max_bid: 4.5", "max_bid: 5.5")  # winter-prospecting only
    plan_file = applied.root / "bid.plan"
    assert applied.run("plan", "--out", str(plan_file)).code == 0
    mm.control("POST", "mediamath/edit", {"collection": "strategies", "id": applied.remote_id(PROSPECTING),
                                          "fields": {"max_bid": "9.25"}, "user": "jdoe"})

    conflicted = applied.run("apply", str(plan_file))
    assert conflicted.code == 3, conflicted
    assert "stale" not in conflicted.err, conflicted.err  # this run changed nothing in the state
    assert (f"Applying {plan_file} again meets the same conflict: this run changed nothing in the state"
            in conflicted.err), conflicted.err
    assert "'reconciler apply --force-conflicts' (the new plan shows whose changes it overwrites)" in conflicted.err
    assert f"'reconciler drift --accept {PROSPECTING}'" in conflicted.err

    again = applied.run("apply", str(plan_file))  # what the advice says happens
    assert again.code == 3 and "stale plan" not in again.err and "Conflict on" in again.out + again.err, again
    forced = applied.run("apply", "--force-conflicts", "--auto-approve")
    assert forced.code == 0, forced
    assert max_bid(mm, applied, PROSPECTING) == 5.5
