"""Accepting drift (issue 18.7): ``drift --accept`` and ``apply --refresh-only``, over HTTP.

``examples/mediamath`` on the MediaMath emulator; jdoe edits objects out of band.

Covers: ``drift --accept`` changes only the drifted values of commented YAML files (the files
compared byte for byte with the originals where only those values differ: trailing comments,
quoting and layout kept), writes a live ``${`` as ``$${`` (it loads back as text), and the next
``plan`` and ``drift`` are empty; positional addresses narrow it; refusals, each saying why, for
a value written as an expression, a field a Defaults fills and a generated (``for_each``)
document, leaving those files untouched and the drift reported (exit 2); a ``for_each`` CSV
document's refusals name where each value comes from (the object's row and column, an expression
over it, the template all share); an id the manifest writes as an integer is written back as one
(and ``drift`` shows it as one); after a conflict,
accepting keeps the other writer's value. ``apply --refresh-only`` records live values in state
without any write to the API (drift clean, the plan then shows the way back to the manifests)
and forgets an object deleted outside reconciler. Arguments that are neither files nor addresses,
and ``--format`` with ``--accept``, are errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.mediamath.app import MediaMathEmulator
from tests.e2e.conftest import ExampleWorkspace, Sandbox, copy_example

CREDENTIALS = dict(MediaMathEmulator.demo_credentials)
PROSPECTING = "mediamath.Strategy/winter-prospecting"
RETARGETING = "mediamath.Strategy/winter-retargeting"
AUDIENCES = "mediamath.Strategy/spring-audiences"
WINTER = "mediamath.Campaign/winter-sale"

GENERATED = """\
---
# two more strategies, made from a list
apiVersion: mediamath/v1
kind: Strategy
metadata:
  name: "extra-${each.value}"
for_each:
  list: [a, b]
spec:
  campaign_id: {ref: Campaign/winter-sale}
  name: "Extra ${each.value}"
  type: GBO
  goal_type: cpa
  goal_value: 15
  budget: 1000
  max_bid: 2
  pacing_type: even
  pacing_interval: day
  pacing_amount: 50
  use_campaign_start: true
  use_campaign_end: true
  media_type: DISPLAY
"""


@pytest.fixture
def ws(mm_server: SandboxServer, tmp_path: Path) -> ExampleWorkspace:
    workspace = copy_example("mediamath", tmp_path / "mediamath", mm_server.url, CREDENTIALS)
    workspace.edit("strategies.yaml", "  max_bid: 4.5\n", "  max_bid: 4.5     # agreed with the client\n")
    return workspace


def apply(ws: ExampleWorkspace) -> None:
    result = ws.run("apply", "--auto-approve")
    assert result.code == 0, result


def jdoe(mm: Sandbox, ws: ExampleWorkspace, collection: str, address: str, fields: dict[str, Any]) -> None:
    mm.control("POST", "mediamath/edit", {"collection": collection, "id": ws.remote_id(address), "fields": fields,
                                          "user": "jdoe"})


def read(ws: ExampleWorkspace, name: str) -> bytes:
    return (ws.root / name).read_bytes()


def test_accept_changes_only_the_drifted_values_and_the_next_plan_is_empty(mm: Sandbox, ws: ExampleWorkspace) -> None:
    apply(ws)
    strategies, campaigns, others = read(ws, "strategies.yaml"), read(ws, "campaigns.yaml"), {
        p.name: p.read_bytes() for p in ws.root.glob("*.yaml") if p.name not in ("strategies.yaml", "campaigns.yaml")}
    jdoe(mm, ws, "strategies", PROSPECTING, {"max_bid": "5.25", "pacing_amount": "900"})
    jdoe(mm, ws, "strategies", AUDIENCES, {"name": "Spring ${env:HOME} Audiences"})
    jdoe(mm, ws, "campaigns", WINTER, {"total_budget": "65000"})
    assert ws.run("drift").code == 2

    accepted = ws.run("drift", "--accept")
    assert accepted.code == 0, accepted
    assert "Accepted 4 live value(s) into the manifests" in accepted.out, accepted.out
    assert f"strategies.yaml:14: {PROSPECTING}: spec.max_bid 4.5 -> 5.25 (changed by jdoe at " in accepted.out

    expected = (strategies
                .replace(b"  max_bid: 4.5     # agreed", b"  max_bid: 5.25     # agreed")
                .replace(b"  pacing_amount: 700\n", b"  pacing_amount: 900\n")
                .replace(b"  name: Spring Audiences\n", b'  name: "Spring $${env:HOME} Audiences"\n'))
    assert read(ws, "strategies.yaml") == expected
    assert read(ws, "campaigns.yaml") == campaigns.replace(b"  total_budget: 50000\n", b"  total_budget: 65000\n", 1)
    assert {p.name: p.read_bytes() for p in ws.root.glob("*.yaml") if p.name in others} == others

    planned = ws.run("plan", "--detailed-exitcode")
    assert planned.code == 0, planned  # the manifests now say what is live; "${" stayed text
    assert ws.run("drift").code == 0


def test_addresses_narrow_what_is_accepted(mm: Sandbox, ws: ExampleWorkspace) -> None:
    apply(ws)
    before = read(ws, "strategies.yaml")
    jdoe(mm, ws, "strategies", PROSPECTING, {"pacing_amount": "900"})
    jdoe(mm, ws, "strategies", RETARGETING, {"pacing_amount": "650"})
    narrowed = ws.run("drift", "--accept", RETARGETING)
    assert narrowed.code == 0, narrowed
    assert read(ws, "strategies.yaml") == before.replace(b"  pacing_amount: 500\n", b"  pacing_amount: 650\n")
    left = ws.run("drift")
    assert left.code == 2 and PROSPECTING in left.out and RETARGETING not in left.out, left.out


def test_refusals_say_which_and_why(mm: Sandbox, ws: ExampleWorkspace) -> None:
    config = (ws.root / "reconciler.yaml").read_text(encoding="utf-8")
    (ws.root / "reconciler.yaml").write_text(
        config + "variables:\n  retarget_bid: 6\ndefaults:\n  - kind: mediamath.Strategy\n"
                 "    values: {media_type: DISPLAY}\n", encoding="utf-8")
    ws.edit("strategies.yaml", "  max_bid: 6\n", "  max_bid: ${var:retarget_bid}\n")
    text = (ws.root / "strategies.yaml").read_text(encoding="utf-8")
    head, sep, tail = text.rpartition("  media_type: DISPLAY\n")  # spring-audiences: from the default
    (ws.root / "strategies.yaml").write_text(head + tail + GENERATED, encoding="utf-8")
    apply(ws)
    before = read(ws, "strategies.yaml")

    jdoe(mm, ws, "strategies", RETARGETING, {"max_bid": "7"})
    jdoe(mm, ws, "strategies", AUDIENCES, {"media_type": "VIDEO"})
    jdoe(mm, ws, "strategies", "mediamath.Strategy/extra-a", {"budget": "1500"})
    jdoe(mm, ws, "strategies", PROSPECTING, {"pacing_amount": "900"})

    result = ws.run("drift", "--accept")
    assert result.code == 2, result  # drift remains
    out = result.out
    assert "Accepted 1 live value(s)" in out and f"{PROSPECTING}: spec.pacing_amount 700 -> 900" in out, out
    assert "Not accepted (3):" in out
    assert (f"{RETARGETING}: spec.max_bid: written as an expression or variable ('${{var:retarget_bid}}') in "
            "spec.max_bid") in out, out
    assert f"{AUDIENCES}: spec.media_type: its value comes from a Defaults document" in out, out
    assert ("mediamath.Strategy/extra-a: spec.budget: the value is written in the for_each template "
            "(strategies.yaml:") in out and "'1000'), which every object made from it shares" in out, out
    assert read(ws, "strategies.yaml") == before.replace(b"  pacing_amount: 700\n", b"  pacing_amount: 900\n")

    left = ws.run("drift")
    assert left.code == 2
    assert {line.split(":")[0].removeprefix("~ ") for line in left.out.splitlines() if line.startswith("~")} == {
        RETARGETING, AUDIENCES, "mediamath.Strategy/extra-a"}


def test_after_a_conflict_accepting_keeps_the_other_writer_s_value(mm: Sandbox, ws: ExampleWorkspace) -> None:
    apply(ws)
    ws.edit("strategies.yaml", "  max_bid: 4.5 ", "  max_bid: 5.5 ")
    plan_file = ws.root / "bid.plan"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    jdoe(mm, ws, "strategies", PROSPECTING, {"max_bid": "9.25"})
    assert ws.run("apply", str(plan_file)).code == 3

    kept = ws.run("drift", "--accept", PROSPECTING)  # what the conflict message advises
    assert kept.code == 0, kept
    assert "  max_bid: 9.25     # agreed with the client\n" in (ws.root / "strategies.yaml").read_text()
    assert ws.run("plan", "--detailed-exitcode").code == 0


def test_refresh_only_records_live_values_without_writing(mm: Sandbox, ws: ExampleWorkspace) -> None:
    apply(ws)
    manifests = {p.name: p.read_bytes() for p in ws.root.glob("*.yaml")}
    jdoe(mm, ws, "strategies", PROSPECTING, {"pacing_amount": "900"})
    flight = ws.remote_id("mediamath.BudgetFlight/spring-launch-main")
    mm.control("POST", "mediamath/delete", {"collection": "budget_flights", "id": flight, "user": "jdoe"})
    mm.clear_counters()

    refreshed = ws.run("apply", "--refresh-only", "--auto-approve")
    assert refreshed.code == 0, refreshed
    assert f"~ {PROSPECTING}: pacing_amount 700 -> 900 (changed by jdoe at " in refreshed.out, refreshed.out
    assert "- mediamath.BudgetFlight/spring-launch-main: deleted outside reconciler" in refreshed.out
    assert "Refresh complete: 1 updated, 1 forgotten in state." in refreshed.out
    writes = {route: n for route, n in mm.counters().items() if " GET " not in route and "login" not in route}
    assert writes == {}, writes  # nothing sent but reads
    assert {p.name: p.read_bytes() for p in ws.root.glob("*.yaml")} == manifests

    assert ws.state_of(PROSPECTING)["applied_spec"]["pacing_amount"] == 900
    assert "mediamath.BudgetFlight/spring-launch-main" not in ws.run("state", "list").out
    assert ws.run("drift").code == 0
    planned = ws.run("plan")
    assert "~ pacing_amount = 900 -> 700" in planned.out and "mediamath.BudgetFlight/spring-launch-main" in planned.out

    again = ws.run("apply", "--refresh-only", "--auto-approve")
    assert again.code == 0 and "No changes: the state matches the live objects." in again.out, again


def test_accept_arguments_that_are_neither_files_nor_addresses_are_errors(ws: ExampleWorkspace) -> None:
    typo = ws.run("drift", "--accept", "strategeis.yaml")
    assert typo.code == 1 and "strategeis.yaml: no such file or directory, and not an address" in typo.err, typo
    unknown = ws.run("drift", "--accept", "Strategy/nope")
    assert unknown.code == 1 and "Strategy/nope matches no address in the manifests" in unknown.err, unknown
    json_too = ws.run("drift", "--accept", "--format", "json")
    assert json_too.code == 1 and "--accept reports what it wrote as text" in json_too.err, json_too


def test_accept_keeps_a_value_s_type_and_drift_shows_ids_typed(mm: Sandbox, ws: ExampleWorkspace) -> None:
    """An id the manifest writes as an integer stays one (the canonical form holds ids as text)."""
    apply(ws)
    advertiser = read(ws, "advertiser.yaml")
    jdoe(mm, ws, "advertisers", "mediamath.Advertiser/acme-shoes", {"vertical_id": "13"})
    shown = ws.run("drift")
    assert shown.code == 2
    assert "mediamath.Advertiser/acme-shoes: vertical_id 12 -> 13 (changed by jdoe" in shown.out, shown.out
    assert '"12"' not in ws.run("drift", "--format", "markdown").out

    accepted = ws.run("drift", "--accept")
    assert accepted.code == 0, accepted
    assert "mediamath.Advertiser/acme-shoes: spec.vertical_id 12 -> 13 (changed by jdoe" in accepted.out, accepted.out
    assert read(ws, "advertiser.yaml") == advertiser.replace(b"  vertical_id: 12      #", b"  vertical_id: 13      #")
    assert ws.run("plan", "--detailed-exitcode").code == 0


CSV_TEMPLATE = """\
apiVersion: mediamath/v1
kind: Strategy
metadata:
  name: "csv-${each.value.key}"
for_each:
  csv: extras.csv
  key: "${each.value.key}"
spec:
  campaign_id: {ref: Campaign/winter-sale}
  name: "CSV ${each.value.key}"
  type: GBO
  goal_type: cpa
  goal_value: 15
  budget: ${each.value.budget}
  max_bid: ${min(float(each.value.bid), 9)}
  pacing_type: even
  pacing_interval: day
  pacing_amount: 50
  use_campaign_start: true
  use_campaign_end: true
  media_type: DISPLAY
"""


def test_a_for_each_csv_row_s_value_is_refused_naming_that_row(mm: Sandbox, ws: ExampleWorkspace) -> None:
    """A value a CSV row holds for one object is not "shared": the refusal names the row to edit."""
    (ws.root / "extras.csv").write_text("key,budget,bid\nx,1000,2\ny,1200,3\n", encoding="utf-8")
    (ws.root / "extras.yaml").write_text(CSV_TEMPLATE, encoding="utf-8")
    apply(ws)
    files = {p.name: p.read_bytes() for p in ws.root.iterdir() if p.is_file()}
    jdoe(mm, ws, "strategies", "mediamath.Strategy/csv-y", {"budget": "1500", "max_bid": "4", "pacing_amount": "60"})

    out = ws.run("drift", "--accept").out
    assert ("mediamath.Strategy/csv-y: spec.budget: the value comes from extras.csv:3 (for_each data of "
            "extras.yaml:1, column budget); edit that row") in out, out
    assert ("mediamath.Strategy/csv-y: spec.max_bid: the value is computed from extras.csv:3 (for_each data of "
            "extras.yaml:1) by the expression '${min(float(each.value.bid), 9)}' at extras.yaml:15; edit that row "
            "or the expression") in out, out
    assert ("mediamath.Strategy/csv-y: spec.pacing_amount: the value is written in the for_each template "
            "(extras.yaml:18: '50'), which every object made from it shares") in out, out
    assert "other objects share" not in out
    assert {p.name: p.read_bytes() for p in ws.root.iterdir() if p.is_file()} == files
