"""What the API would refuse is caught by ``validate`` (and ``plan``), before any call (issue 17).

Each case takes the MediaMath, LiveRamp and mediarithmics examples, breaks one thing, and runs
``validate`` and ``plan`` through the real CLI against the sandbox: exit 1, one ``Error:`` line
naming ``file:line: field: message`` (with "did you mean" where it helps), no traceback, no state
file and no request that writes. Cases: references to the wrong kind (three ways) and to a kind
where only a literal id fits, an id holding a word, an impossible date, an unknown zone, things
that end before they start (campaign, budget flight, strategy with its own dates, clean room, run
schedule), WEEKLY and MONTHLY schedules without their days, an assignment macro the question does
not declare, the same question in a room twice, a member listed twice, a credential used in a
manifest field, a mistyped field, kind and enum value, a mistyped provider setting. Also: every
error of every document at once, sorted by file and line.
"""

from __future__ import annotations

import shutil

import pytest

from reconciler.sandbox import SandboxServer
from tests.adopt.conftest import REPO, Workspace, writes

MM_PASSWORD_NAME = "MM_PASSWORD"


def with_examples(ws: Workspace) -> None:
    for name in ("mediamath", "liveramp", "mediarithmics"):
        shutil.copytree(REPO / "examples" / name, ws.root / name, ignore=shutil.ignore_patterns("reconciler.yaml", ".reconciler"))


def edit(ws: Workspace, file: str, old: str, new: str) -> None:
    path = ws.root / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (file, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


# (id, file, old, new, expected fragments of the one Error line)
CASES = [
    ("ref-wrong-kind", "mediamath/strategies.yaml", "  campaign_id: {ref: Campaign/winter-sale}\n  name: Winter Prospecting",
     "  campaign_id: {ref: Strategy/winter-retargeting}\n  name: Winter Prospecting",
     ["mediamath/strategies.yaml:", "spec.campaign_id: refers to mediamath.Strategy/winter-retargeting, a mediamath.Strategy; "
      "campaign_id takes a mediamath.Campaign (write {ref: Campaign/name})"]),
    ("ref-agency-for-advertiser", "mediamath/campaigns.yaml", "  advertiser_id: {ref: Advertiser/acme-shoes}\n  name: Winter",
     "  advertiser_id: {ref: Agency/acme-agency}\n  name: Winter",
     ["mediamath/campaigns.yaml:", "spec.advertiser_id: refers to mediamath.Agency/acme-agency", "takes a mediamath.Advertiser"]),
    ("ref-question-for-cleanroom-question", "liveramp/07-schedule.yaml", "{ref: CleanroomQuestion/reach-in-retail}",
     "{ref: Question/reach-by-region}",
     ["liveramp/07-schedule.yaml:", "spec.cleanroom_question_id: refers to liveramp.Question/reach-by-region",
      "takes a liveramp.CleanroomQuestion"]),
    ("ref-where-only-a-literal-fits", "mediamath/advertiser.yaml", "  ad_server_id: 9 ", "  ad_server_id: {ref: Agency/acme-agency} ",
     ["mediamath/advertiser.yaml:", "spec.ad_server_id: refers to mediamath.Agency/acme-agency", "takes a literal id only"]),
    ("id-holding-a-word", "mediamath/agency.yaml", "  organization_id: {ref: Organization/acme-org}",
     "  organization_id: \"one hundred\"",
     ["mediamath/agency.yaml:7: spec.organization_id: 'one hundred' does not match"]),
    ("impossible-date", "mediamath/campaigns.yaml", '  start_date: "2026-12-01T00:00:00"', '  start_date: "2026-13-45T99:00:00"',
     ["mediamath/campaigns.yaml:", "spec.start_date: '2026-13-45T99:00:00' is not a valid date-time"]),
    ("unknown-zone", "mediamath/campaigns.yaml", "  zone_name: America/New_York", "  zone_name: America/Gotham",
     ["mediamath/campaigns.yaml:", "spec.zone_name: unknown time zone 'America/Gotham'"]),
    ("campaign-ends-before-start", "mediamath/campaigns.yaml", '  end_date: "2027-01-31T23:59:59"', '  end_date: "2026-11-30T23:59:59"',
     ["mediamath/campaigns.yaml:", "spec.end_date: ends before it starts"]),
    ("flight-ends-before-start", "mediamath/budget-flights.yaml", '  end_date: "2027-01-31T23:59:59-05:00"',
     '  end_date: "2026-11-01T00:00:00-05:00"', ["mediamath/budget-flights.yaml:", "spec.end_date: ends before it starts"]),
    ("strategy-own-dates-end-before-start", "mediamath/strategies.yaml",
     "  pacing_amount: 700\n  use_campaign_start: true\n  use_campaign_end: true",
     '  pacing_amount: 700\n  use_campaign_start: false\n  use_campaign_end: false\n  start_date: "2027-01-10T00:00:00Z"\n'
     '  end_date: "2027-01-01T00:00:00Z"',
     ["mediamath/strategies.yaml:", "spec.end_date: ends before it starts"]),
    ("cleanroom-ends-before-start", "liveramp/02-cleanroom.yaml", "  start_at:", "  end_at: \"2020-01-01\"\n  start_at:",
     ["liveramp/02-cleanroom.yaml:", "spec.end_at: ends before it starts"]),
    ("schedule-ends-before-start", "liveramp/07-schedule.yaml", "  frequency: WEEKLY", "  frequency: WEEKLY\n  end: \"2020-01-01\"",
     ["liveramp/07-schedule.yaml:", "spec.end: ends before it starts"]),
    ("weekly-without-days", "liveramp/07-schedule.yaml", "  days_of_week: [MON]", "  days_of_week: []",
     ["liveramp/07-schedule.yaml:", "spec.days_of_week: a WEEKLY schedule needs days_of_week"]),
    ("monthly-without-days", "liveramp/07-schedule.yaml", "  frequency: WEEKLY", "  frequency: MONTHLY",
     ["liveramp/07-schedule.yaml:", "spec.days_of_month: a MONTHLY schedule needs days_of_month"]),
    ("undeclared-macro", "liveramp/06-cleanroom-question.yaml", "    - macro: crm", "    - macro: crm_data",
     ["liveramp/06-cleanroom-question.yaml:", "spec.assignments.0.macro: macro 'crm_data' is not declared by "
      "liveramp.Question/reach-by-region (its data_types declare: crm)"]),
    ("member-listed-twice", "mediarithmics/clean-rooms.yaml", '    - organisation_id: "1581"\n', '    - organisation_id: "1752"\n',
     ["mediarithmics/clean-rooms.yaml:", "organisation_id: organisation 1752 is listed twice"]),
    ("credential-in-a-field", "mediamath/strategies.yaml", "  name: Winter Prospecting", f"  name: \"${{env:{MM_PASSWORD_NAME}}}\"",
     ["mediamath/strategies.yaml:", f"spec.name: ${{env:{MM_PASSWORD_NAME}}} holds a secret"]),
    ("mistyped-field", "mediamath/strategies.yaml", "  pacing_amount: 700", "  pacing_amout: 700",
     ["mediamath/strategies.yaml:", "spec.pacing_amout: unknown field 'pacing_amout'; did you mean 'pacing_amount'?"]),
    ("mistyped-enum", "mediamath/campaigns.yaml", "  goal_type: cpa", "  goal_type: cpx",
     ["mediamath/campaigns.yaml:", "spec.goal_type: 'cpx' is not one of", "did you mean 'cpe'?"]),
    ("mistyped-kind", "mediamath/strategies.yaml", "kind: Strategy\nmetadata:\n  name: winter-prospecting",
     "kind: Stratgy\nmetadata:\n  name: winter-prospecting",
     ["mediamath/strategies.yaml:", "kind: unknown kind 'Stratgy' for provider 'mediamath'; did you mean 'Strategy'?"]),
]


@pytest.mark.parametrize(("case", "file", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_validate_and_plan_catch_what_the_api_would_refuse(
    sandbox: SandboxServer, sandbox_ws: Workspace, case: str, file: str, old: str, new: str, expected: list[str]
) -> None:
    with_examples(sandbox_ws)
    edit(sandbox_ws, file, old, new)
    before = writes(sandbox)
    for command in ("validate", "plan"):
        result = sandbox_ws.run(command)
        assert result.code == 1, (command, result.text)
        assert result.err.startswith("Error: "), result.err
        assert "Traceback" not in result.text and "internal error" not in result.text
        for fragment in expected:
            assert fragment in result.err, (command, fragment, result.err)
    assert not (sandbox_ws.root / ".reconciler" / "state.json").exists()
    assert writes(sandbox) == before


def test_the_same_question_twice_in_a_room(sandbox: SandboxServer, sandbox_ws: Workspace) -> None:
    with_examples(sandbox_ws)
    text = (sandbox_ws.root / "liveramp/06-cleanroom-question.yaml").read_text()
    sandbox_ws.write("liveramp/06b-again.yaml", text.replace("name: reach-in-retail", "name: reach-again"))
    result = sandbox_ws.run("validate")
    assert result.code == 1, result.text
    assert ("liveramp/06b-again.yaml:8: spec.question_id: the same CleanroomQuestion as "
            "liveramp.CleanroomQuestion/reach-in-retail (liveramp/06-cleanroom-question.yaml:") in result.err


def test_a_mistyped_provider_setting_is_an_error(sandbox_ws: Workspace) -> None:
    config = sandbox_ws.root / "reconciler.yaml"
    config.write_text(config.read_text().replace("    token_cache_dir:", "    api_user_emial: a@b.example\n    token_cache_dir:"),
                      encoding="utf-8")
    result = sandbox_ws.run("validate")
    assert result.code == 1, result.text
    assert "reconciler.yaml:" in result.err
    assert "providers.liveramp.api_user_emial: unknown setting 'api_user_emial' for provider liveramp; " \
           "did you mean 'api_user_email'?" in result.err


def test_every_error_at_once_sorted_by_file_and_line(sandbox_ws: Workspace) -> None:
    with_examples(sandbox_ws)
    edit(sandbox_ws, "mediamath/strategies.yaml", "  pacing_amount: 700", "  pacing_amout: 700")
    edit(sandbox_ws, "mediamath/strategies.yaml", "  max_bid: 4.5", "  max_bid: lots")
    edit(sandbox_ws, "mediamath/campaigns.yaml", "  goal_type: cpa", "  goal_type: cpx")
    edit(sandbox_ws, "liveramp/07-schedule.yaml", "  days_of_week: [MON]", "  days_of_week: []")
    result = sandbox_ws.run("validate")
    assert result.code == 1, result.text
    lines = result.err.removeprefix("Error: ").rstrip("\n").splitlines()
    assert [line.split(":", 1)[0] for line in lines] == [
        "liveramp/07-schedule.yaml", "mediamath/campaigns.yaml", *["mediamath/strategies.yaml"] * 3,
    ]
    numbers = [int(line.split(":")[1]) for line in lines[2:]]
    assert numbers == sorted(numbers)  # every error of one document, by line:
    assert "spec: 'pacing_amount' is a required property" in lines[2]
    assert "spec.max_bid: 'lots' is not of type 'number'" in lines[3]
    assert "spec.pacing_amout: unknown field 'pacing_amout'; did you mean 'pacing_amount'?" in lines[4]
    assert len(set(lines)) == len(lines)  # each once


def test_a_variable_number_lands_typed_in_the_plan(sandbox_ws: Workspace) -> None:
    with_examples(sandbox_ws)
    config = sandbox_ws.root / "reconciler.yaml"
    config.write_text(config.read_text() + 'variables: {bid: "1.5", pacing: "700", running: "false"}\n', encoding="utf-8")
    edit(sandbox_ws, "mediamath/strategies.yaml", "  max_bid: 4.5", "  max_bid: ${var:bid}\n  status: ${var:running}")
    edit(sandbox_ws, "mediamath/strategies.yaml", "  pacing_amount: 700", "  pacing_amount: ${var:pacing}")
    plan = sandbox_ws.plan_json()
    (strategy,) = [c for c in plan["resource_changes"] if c["address"] == "mediamath.Strategy/winter-prospecting"]
    after = strategy["change"]["after"]
    assert after["max_bid"] == 1.5 and after["pacing_amount"] == 700 and after["status"] is False
