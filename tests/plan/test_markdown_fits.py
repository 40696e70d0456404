"""Markdown that fits in a pull-request comment (GitHub refuses more than 65,536 characters).

Aspects: a 300-strategy plan's Markdown stays under the default 60,000 characters, keeps the
summary (which still counts all 300) and the largest changes (by the money they move), and says
how many are left out and where the full plan is (``--full-plan``); ``--max-chars`` moves the
limit and 0 lifts it; ``show FILE`` renders a saved plan the same way, without calling any API.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.plan.test_plan_summary import CAMPAIGN, STRATEGY, TOP, WORKSPACE, Estate
from tests.support.cli import invoke

COUNT = 300


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace planning 300 strategies (budgets 1,000 ... 300,000 USD) under one campaign."""
    root = tmp_path_factory.mktemp("markdown") / "ws"
    Estate(root)  # the workspace file and the embedded sandbox
    (root / "reconciler.yaml").write_text(WORKSPACE)
    text = TOP + (
        "---\napiVersion: mediamath/v1\nkind: Advertiser\nmetadata: {name: shoes}\n"
        'spec: {agency_id: {ref: Agency/agency}, name: shoes, domain: "https://shoes.example", '
        "ad_server_id: 9, vertical_id: 12, status: true}\n"
    )
    text += CAMPAIGN.format(name="big", advertiser="shoes", currency="USD", budget=50_000_000)
    for i in range(1, COUNT + 1):
        text += STRATEGY.format(name=f"strategy-{i:03d}", campaign="big", budget=i * 1000, status="false")
    (root / "manifests.yaml").write_text(text)
    return root


def test_a_300_strategy_plan_fits_and_keeps_the_summary(big: Path) -> None:
    full = invoke(big, "plan", "--format", "markdown", "--max-chars", "0")
    assert full.code == 0 and len(full.out) > 100_000, len(full.out)  # what it would be without the limit

    result = invoke(big, "plan", "--format", "markdown", "--full-plan", "plan.txt in the reconciler-plan artifact")
    assert result.code == 0, result
    md = result.out
    assert len(md) <= 60_000, len(md)
    assert md.startswith("### reconciler plan\n\n**Plan: 303 to create,")
    assert "**Summary:** 304 changes (303 to create, 1 to adopt), 0 unchanged" in md
    assert "      - Strategy: 300 to create" in md  # the summary still counts every strategy
    assert "budgets: **Campaign total_budget +50,000,000.00 USD (new); Strategy budget +45,150,000.00 USD (new)**" in md

    shown = [int(n) for n in re.findall(r"<code>\+ mediamath\.Strategy/strategy-(\d+)</code>", md)]
    assert 20 < len(shown) < COUNT
    assert sorted(shown) == list(range(COUNT - len(shown) + 1, COUNT + 1))  # the largest budgets stay
    assert shown == sorted(shown)  # in plan order
    omitted = 304 - md.count("<details>")
    assert omitted >= COUNT - len(shown)
    note = re.search(r"> \*\*(\d+) of 304 resources are not shown\*\* to keep this comment under 60,000 characters "
                     r"\((\d+) to create\); the summary above counts everything\. "
                     r"The full plan: plan\.txt in the reconciler-plan artifact\.", md)
    assert note is not None, md[-2000:]
    assert int(note.group(1)) == int(note.group(2)) == omitted
    assert md.count("<details>") == md.count("</details>")  # no section cut in half

    small = invoke(big, "plan", "--format", "markdown", "--max-chars", "20000")
    assert len(small.out) <= 20_000 and "resources are not shown" in small.out
    assert "run `reconciler plan`" in small.out  # where the full plan is, by default


def test_show_renders_a_saved_plan_the_same_way(big: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    planned = invoke(big, "plan", "--out", str(saved), "--format", "markdown")
    assert planned.code == 0, planned
    shown = invoke(big, "show", str(saved), "--format", "markdown")
    assert shown.code == 0, shown
    assert shown.out == planned.out
    text = invoke(big, "show", str(saved))
    assert text.out.startswith("Summary: 304 changes (303 to create, 1 to adopt), 0 unchanged\n")
    assert text.out.count("will be created") == 303  # the text plan is never cut
    missing = invoke(big, "show", str(tmp_path / "nope.json"))
    assert missing.code == 1 and "plan file not found" in missing.err
