"""Plan renderers: text, JSON (against the published schema) and Markdown.

Covers: text headers with action symbols, sorted and aligned field lines with nested paths,
``(known after apply)``, loud replace reasons and ``# forces replacement``, manual steps,
status, abandon/adopt wording, the summary line and the empty-plan sentence, the drift
section, warnings, colour only when asked; JSON: Terraform actions for each of our actions
(replace -> delete+create, adopt -> no-op + importing, abandon -> forget, manual -> the
underlying action), after/after_unknown for unknown ids, replace_paths, action_reason,
preconditions, summary, drift entries; the schema rejects malformed documents (so the schema
check in every scenario can fail); Markdown: summary line, one <details> per changed resource,
diff blocks, HTML escaping, manual steps, drift section.
"""

from __future__ import annotations

import copy
import re

import pytest
from jsonschema import ValidationError

from reconciler.plan.model import Action, Change, FieldChange, Plan
from reconciler.plan.render import format_value, render_json, render_markdown, render_text, summary_line
from reconciler.providers.base import Precondition, PreconditionKind
from tests.plan.fixtures import PLAN_VALIDATOR, check_plan_json, mixed_plan, ref

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return mixed_plan()


def block(text: str, address: str, drift: bool = False) -> list[str]:
    """The lines of one resource's block in the actions (or the drift) section of the text."""
    marker = "will perform the following actions"
    text = text[: text.index(marker)] if drift else text[text.index(marker) :]
    lines = text.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("  # ") and f" {address} " in line + " "
    )
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out


def test_text_summary_and_order(plan: Plan) -> None:
    full = render_text(plan)
    assert (
        "Plan: 1 to create, 1 to update, 1 to replace, 1 to delete, 1 to adopt, 1 manual, 1 to abandon."
        in full
    )
    assert "mediamath.Campaign/kept" not in full  # no-ops are not listed
    text = full[full.index("will perform the following actions") :]
    order = [
        text.index(f"# {a}")
        for a in (
            "mediamath.Organization/main",
            "mediamath.Advertiser/acme",
            "mediamath.Campaign/summer",
            "mediamath.Campaign/budget",
            "liveramp.CleanroomPartner/agency",
        )
    ]
    assert order == sorted(order)
    assert text.index("# mediamath.Strategy/old") > text.index("# liveramp.CleanroomPartner/agency")
    assert ANSI.search(full) is None


def test_text_create_lines_are_sorted_and_aligned(plan: Plan) -> None:
    lines = block(render_text(plan), "mediamath.Advertiser/acme")
    assert lines[0] == "  # mediamath.Advertiser/acme will be created"
    assert lines[1] == "  + mediamath.Advertiser/acme"
    assert lines[2:] == ['      + agency_id = 7', '      + name      = "Acme"']  # an id as the schema types it


def test_text_update_and_normalised_values(plan: Plan) -> None:
    lines = block(render_text(plan), "mediamath.Campaign/budget")
    assert lines[0] == "  # mediamath.Campaign/budget (id 203) will be updated in-place"
    assert lines[1] == "  ~ mediamath.Campaign/budget"
    assert '      ~ name         = "Summer Sale" -> "Budget <b>|`x`"' in lines
    assert "      ~ total_budget = 500 -> 750  # +250.00 (+50.0 %)" in lines  # money: delta and percentage


def test_text_replace_is_loud(plan: Plan) -> None:
    lines = block(render_text(plan), "mediamath.Campaign/summer")
    assert "must be REPLACED (delete, then create): immutable field 'advertiser_id' changed" in lines[0]
    assert lines[1] == "-/+ mediamath.Campaign/summer"
    assert lines[2] == '      ~ advertiser_id   = 101 -> (known after apply)  # forces replacement'
    assert lines[3] == '      + targeting.geo.1 = "CA"'
    assert lines[4] == "      ~ total_budget    = 650 -> 700  # +50.00 (+7.7 %)"


def test_text_manual_adopt_abandon_delete(plan: Plan) -> None:
    text = render_text(plan)
    manual = block(text, "liveramp.CleanroomPartner/agency")
    assert "[status: invited] needs a MANUAL step: the API cannot make this update" in manual[0]
    assert manual[-1] == (
        "      ! manual step 1: Ask the partner admin to change the role (liveramp.CleanroomPartner/agency: role)"
    )
    adopt = block(text, "mediamath.Organization/main")
    assert "(id 1) EXISTS already and will be ADOPTED into state, nothing is written" in adopt[0]
    assert adopt[1] == " <= mediamath.Organization/main"
    abandon = block(text, "liveramp.Cleanroom/room")
    assert "will be forgotten: removed from state, nothing is deleted" in abandon[0]
    assert "lifecycle on_delete: abandon" in abandon[0]
    delete = block(text, "mediamath.Strategy/old")
    assert delete[0] == "  # mediamath.Strategy/old (id 301) will be DELETED (not in manifests)"
    assert delete[2:] == ['      - campaign_id = 201', '      - name        = "old"']


def test_text_drift_section_and_warnings(plan: Plan) -> None:
    text = render_text(plan)
    assert text.startswith("Summary: 7 changes (")  # the summary first, then drift, then the actions
    assert text.index("Summary: ") < text.index("Objects changed outside reconciler\n")
    drift = block(text, "mediamath.Campaign/summer", drift=True)
    assert drift[0] == "  # mediamath.Campaign/summer (id 201) has changed outside reconciler"
    assert drift[2] == "      ~ total_budget = 500 -> 650"
    assert text.index("Objects changed outside reconciler") < text.index("will perform the following actions")
    assert "Warning: mediamath.Organization/main: Organization is read-only" in text


def test_text_color_only_when_asked(plan: Plan) -> None:
    colored = render_text(plan, color=True)
    assert ANSI.search(colored)
    assert ANSI.sub("", colored) == render_text(plan)


def test_empty_plan_sentence() -> None:
    empty = Plan(
        "lin",
        1,
        (Change("mediamath.Campaign/a", "mediamath", "Campaign", Action.NOOP, "1", reason="no changes"),),
    )
    assert render_text(empty) == "No changes. Live objects match the manifests.\n"
    assert summary_line(empty) == "No changes. Live objects match the manifests."
    assert "**No changes. Live objects match the manifests.**" in render_markdown(empty)
    data = check_plan_json(empty)
    assert data["applyable"] is False and data["resource_changes"][0]["change"]["actions"] == ["no-op"]


def test_format_value() -> None:
    assert format_value(ref("mediamath.Advertiser/a")) == "(known after apply)"
    assert (
        format_value({"b": [1, ref("mediamath.Advertiser/a")], "a": None})
        == '{"a": null, "b": [1, (known after apply)]}'
    )
    assert format_value(500.0) == "500" and format_value(500.5) == "500.5" and format_value(True) == "true"
    assert format_value("é") == '"é"'


def test_json_actions_map_to_terraform(plan: Plan) -> None:
    data = render_json(plan)
    by = {e["address"]: e for e in data["resource_changes"]}
    expect = {
        "mediamath.Organization/main": ("adopt", ["no-op"]),
        "mediamath.Advertiser/acme": ("create", ["create"]),
        "mediamath.Campaign/summer": ("replace", ["delete", "create"]),
        "mediamath.Campaign/kept": ("no-op", ["no-op"]),
        "mediamath.Campaign/budget": ("update", ["update"]),
        "liveramp.CleanroomPartner/agency": ("manual", ["update"]),
        "liveramp.Cleanroom/room": ("abandon", ["forget"]),
        "mediamath.Strategy/old": ("delete", ["delete"]),
    }
    assert {a: (e["reconciler_action"], e["change"]["actions"]) for a, e in by.items()} == expect
    assert by["mediamath.Organization/main"]["change"]["importing"] == {"id": "1"}
    assert by["mediamath.Strategy/old"]["action_reason"] == "delete_because_no_resource_config"
    assert by["mediamath.Strategy/old"]["change"]["after"] is None
    replace = by["mediamath.Campaign/summer"]
    assert replace["action_reason"] == "replace_because_cannot_update"
    assert replace["change"]["replace_paths"] == [["advertiser_id"]]
    assert replace["change"]["after"]["advertiser_id"] is None
    assert replace["change"]["after_unknown"] == {"advertiser_id": True}
    assert (
        replace["type"] == "mediamath_Campaign"
        and replace["name"] == "summer"
        and replace["mode"] == "managed"
    )
    assert {
        "path": "advertiser_id",
        "before": "101",
        "after": {"$ref": "mediamath.Advertiser/acme"},
    } in replace["field_changes"]


def test_json_top_level(plan: Plan) -> None:
    data = render_json(plan)
    assert data["format_version"] == "1.2"
    assert (data["lineage"], data["serial"]) == ("lin-1", 7)
    assert data["preconditions"]["mediamath.Campaign/budget"] == {"kind": "version", "value": 9}
    assert data["preconditions"]["mediamath.Advertiser/acme"] == {"kind": "none", "value": None}
    assert data["preconditions"]["liveramp.CleanroomPartner/agency"]["kind"] == "fingerprint"
    assert {k: v for k, v in data["summary"].items() if k in {a.value for a in Action}} == {
        "create": 1,
        "update": 1,
        "replace": 1,
        "delete": 1,
        "no-op": 1,
        "adopt": 1,
        "manual": 1,
        "abandon": 1,
    }
    assert data["complete"] is False and data["applyable"] is True
    assert [d["address"] for d in data["resource_drift"]] == ["mediamath.Campaign/summer"]
    assert data["resource_drift"][0]["change"]["before"]["total_budget"] == 500
    assert data["resource_drift"][0]["change"]["after"]["total_budget"] == 650
    assert data["warnings"] == list(plan.warnings)
    check_plan_json(plan)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("resource_changes"),
        lambda d: d.update(format_version="1.0"),
        lambda d: d["resource_changes"][0]["change"].update(actions=["explode"]),
        lambda d: d["resource_changes"][2].update(reconciler_action="update"),  # replace with delete+create
        lambda d: d["resource_changes"][0]["change"].pop("importing"),  # adopt needs importing
        lambda d: d["preconditions"].update({"mediamath.Campaign/x": {"kind": "etag", "value": 1}}),
        lambda d: d["resource_changes"][1].update(address="not an address"),
        lambda d: d.update(extra=True),
    ],
)
def test_schema_rejects_malformed_plan_json(plan: Plan, mutate) -> None:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(render_json(plan))
    PLAN_VALIDATOR.validate(data)
    mutate(data)
    with pytest.raises(ValidationError):
        PLAN_VALIDATOR.validate(data)


def test_markdown_sections(plan: Plan) -> None:
    md = render_markdown(plan)
    assert md.startswith("### reconciler plan\n\n**Plan: 1 to create, 1 to update, 1 to replace,")
    changed = [c for c in plan.changes if c.action is not Action.NOOP]
    assert md.count("<details>") == len(changed) + len(plan.drift)
    assert md.count("<details>") == md.count("</details>")
    assert "mediamath.Campaign/kept" not in md
    assert "<summary><b><code>-/+ mediamath.Campaign/summer</code> (id 201) must be REPLACED" in md
    assert (
        '```diff\n! advertiser_id = 101 -> (known after apply)  # forces replacement\n+ targeting.geo.1 = "CA"\n'
        in md
    )
    assert "1. Ask the partner admin to change the role" in md
    assert "#### Objects changed outside reconciler" in md
    assert "> **Warning:** mediamath.Organization/main" in md


def test_markdown_escapes_and_fences() -> None:
    fc = FieldChange("name", "a", "```evil``` <script>")
    change = Change(
        "mediamath.Campaign/x",
        "mediamath",
        "Campaign",
        Action.UPDATE,
        "1",
        {"name": "a"},
        {"name": "n"},
        (fc,),
        Precondition(PreconditionKind.VERSION, 1),
        status="<b>",
    )
    md = render_markdown(Plan("lin", 1, (change,)))
    assert "[status: &lt;b&gt;]" in md
    assert "````diff\n" in md and "\n````\n" in md  # a fence longer than any backtick run inside
    check_plan_json(Plan("lin", 1, (change,)))
