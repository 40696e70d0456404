"""Attribution everywhere (issue 18.5): ``plan``, conflicts and rebases name the other writer.

``examples/mediamath`` on the MediaMath emulator over HTTP; the sandbox's second user ``jdoe``
makes the out-of-band edits (``/_sandbox/mediamath/edit``, recorded in the entity's ``/history``).

Covers: an update that sets back jdoe's edit says "reverts jdoe's change of <UTC time>" in the
text, Markdown and JSON plan and in a saved plan; one that sets yet another value says
"overwrites"; the plan's "Objects changed outside reconciler" section names jdoe and the time on
the drifted field (text and Markdown); a field changed only in the manifest carries no note; a conflict names jdoe (not
"someone else") with the time; a rebase that kept jdoe's value of a field the manifest sets
says the next plan will set it back, and that plan then names jdoe.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from reconciler.plan.planfile import load_plan
from tests.e2e.conftest import ExampleWorkspace, Sandbox

STRATEGY = "mediamath.Strategy/winter-prospecting"


def jdoe_edits(mm: Sandbox, ws: ExampleWorkspace, fields: dict[str, Any]) -> str:
    """An edit by jdoe; returns its time as the plan shows it (``2026-11-30 14:02 UTC``)."""
    done = mm.control("POST", "mediamath/edit", {"collection": "strategies", "id": ws.remote_id(STRATEGY),
                                                 "fields": fields, "user": "jdoe"})
    when = datetime.fromisoformat(done["history"]["date"].replace("Z", "+00:00"))
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def test_plan_names_jdoe_for_the_change_it_reverts(mm: Sandbox, applied: ExampleWorkspace) -> None:
    when = jdoe_edits(mm, applied, {"pacing_amount": "900"})
    applied.edit("strategies.yaml", "max_bid: 4.5", "max_bid: 5")  # a manifest change: no note

    text = applied.run("plan")
    assert text.code == 0, text
    lines = text.out.splitlines()
    [pacing] = [li for li in lines if "pacing_amount = 900 -> 700" in li]
    assert pacing.strip().startswith("~ pacing_amount = 900 -> 700  # "), pacing
    assert pacing.endswith(f"reverts jdoe's change of {when}"), pacing
    [bid] = [li for li in lines if "max_bid" in li]
    assert "4.5 -> 5" in bid and "reverts" not in bid and "jdoe" not in bid, bid  # a manifest change

    markdown = applied.run("plan", "--format", "markdown").out
    [md_line] = [li for li in markdown.splitlines() if "pacing_amount = 900 -> 700" in li]
    assert md_line.startswith("! pacing_amount") and md_line.endswith(f"reverts jdoe's change of {when}"), md_line

    data = json.loads(applied.run("plan", "--format", "json").out)
    [resource] = [r for r in data["resource_changes"] if r["address"] == STRATEGY]
    fields = {f["path"]: f for f in resource["field_changes"]}
    assert fields["pacing_amount"]["outside_change"]["user"] == "jdoe"
    assert fields["pacing_amount"]["outside_change"]["overwrite"] is False
    assert "outside_change" not in fields["max_bid"]

    saved = applied.root / "reverts.plan"
    assert applied.run("plan", "--out", str(saved)).code == 0
    [change] = [c for c in load_plan(saved).changes if c.address == STRATEGY]
    assert [(a.path, a.user) for a in change.reverts] == [("pacing_amount", "jdoe")]


def test_setting_yet_another_value_overwrites_jdoe_s_change(mm: Sandbox, applied: ExampleWorkspace) -> None:
    when = jdoe_edits(mm, applied, {"pacing_amount": "900"})
    applied.edit("strategies.yaml", "pacing_amount: 700", "pacing_amount: 750")
    text = applied.run("plan")
    [line] = [li for li in text.out.splitlines() if "pacing_amount = 900 -> 750" in li]
    assert line.endswith(f"overwrites jdoe's change of {when}"), text.out


def test_a_conflict_names_the_other_writer(mm: Sandbox, applied: ExampleWorkspace) -> None:
    applied.edit("strategies.yaml", "max_bid: 4.5", "max_bid: 5.5")
    plan_file = applied.root / "bid.plan"
    assert applied.run("plan", "--out", str(plan_file)).code == 0
    when = jdoe_edits(mm, applied, {"max_bid": "9.25"})

    result = applied.run("apply", str(plan_file))
    assert result.code == 3, result
    assert "someone else" not in result.text, result.text
    assert f"Conflict on {STRATEGY}: jdoe changed fields this plan changes:" in result.text, result.text
    [line] = [li for li in result.out.splitlines() if li.strip().startswith("max_bid:")]
    assert "9.25" in line and "5.5" in line and line.endswith(f"set by jdoe at {when}"), line
    assert f"jdoe changed max_bid since the plan (at {when})" in result.text, result.text


def test_a_rebase_that_kept_jdoe_s_value_says_the_next_plan_reverts_it(
    mm: Sandbox, applied: ExampleWorkspace
) -> None:
    """The manifest's change is max_bid; jdoe sets pacing 900 (the manifest says 700) meanwhile."""
    applied.edit("strategies.yaml", "max_bid: 4.5", "max_bid: 5.5")
    plan_file = applied.root / "bid.plan"
    assert applied.run("plan", "--out", str(plan_file)).code == 0
    when = jdoe_edits(mm, applied, {"pacing_amount": "900"})

    result = applied.run("apply", str(plan_file))
    assert result.code == 0, result
    assert f"{STRATEGY}: rebased" in result.text, result.text
    assert (f"kept another writer's pacing_amount 900 (by jdoe at {when}; the manifest says 700): the next "
            f"plan will set it back unless the manifest is updated ('reconciler drift --accept {STRATEGY}'") in result.text

    replanned = applied.run("plan")
    [line] = [li for li in replanned.out.splitlines() if "pacing_amount = 900 -> 700" in li]
    assert line.endswith(f"reverts jdoe's change of {when}"), replanned.out


def test_the_plan_s_drift_section_names_who_changed_the_object(mm: Sandbox, applied: ExampleWorkspace) -> None:
    when = jdoe_edits(mm, applied, {"pacing_amount": "900"})
    text = applied.run("plan").out
    section = text.split("Objects changed outside reconciler", 1)[1].split("reconciler will perform", 1)[0]
    [line] = [li for li in section.splitlines() if "pacing_amount = 700 -> 900" in li]
    assert line.endswith(f"# changed by jdoe at {when}"), text

    markdown = applied.run("plan", "--format", "markdown").out
    drift = markdown.split("Objects changed outside reconciler", 1)[1]
    [md_line] = [li for li in drift.splitlines() if "pacing_amount = 700 -> 900" in li]
    assert md_line.endswith(f"# changed by jdoe at {when}"), markdown
