"""The budget guardrail in ``plan`` on the MediaMath example, against the sandbox's Reporting API.

Aspects covered (issue 6): lowering a campaign's ``total_budget`` below its spend to date is an
error naming both numbers (exit 1, nothing saved); within 10 % above spend it is a warning and the
plan goes ahead; ``--skip-guardrails`` allows the cut and the plan says so; a budget raise asks the
Reporting API nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from reconciler.sandbox.base import SandboxServer
from tests.e2e.conftest import ExampleWorkspace, copy_example, serve

CREDENTIALS = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}
CAMPAIGN = "mediamath.Campaign/winter-sale"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    yield from serve(["mediamath", "mediamath-reporting", "mediamath-auth"])


@pytest.fixture
def spent(server: SandboxServer, tmp_path: Path) -> ExampleWorkspace:
    """The example applied, with 42,000.50 spent to date on the 50,000 winter sale campaign."""
    ws = copy_example("mediamath", tmp_path / "mediamath", server.url, CREDENTIALS)
    assert ws.run("apply", "--auto-approve").code == 0
    campaign_id = int(ws.remote_id(CAMPAIGN))
    # the campaign runs from December: let the reporting clock reach mid-January
    clock = requests.post(
        f"{server.url}/_sandbox/mediamath-reporting/clock", json={"now": "2027-01-15T12:00:00Z"}, timeout=10
    )
    assert clock.status_code == 200, clock.text
    r = requests.post(
        f"{server.url}/_sandbox/mediamath-reporting/spend", json={"campaign_id": campaign_id, "spend": 42000.50}, timeout=10
    )
    assert r.status_code == 200, r.text
    return ws


def reporting_requests(server: SandboxServer) -> int:
    routes = requests.get(f"{server.url}/_sandbox/counters", timeout=10).json()["routes"]
    return sum(n for key, n in routes.items() if key.startswith("mediamath-reporting "))


def set_budget(ws: ExampleWorkspace, amount: int) -> None:
    ws.edit("campaigns.yaml", "total_budget: 50000", f"total_budget: {amount}")


def test_budget_below_spend_is_refused_with_both_numbers(spent: ExampleWorkspace, tmp_path: Path) -> None:
    set_budget(spent, 40000)
    out = tmp_path / "plan.json"
    result = spent.run("plan", "--out", str(out))
    assert result.code == 1, result
    assert "40000" in result.err and "42000.5" in result.err and CAMPAIGN in result.err
    assert "--skip-guardrails" in result.err
    assert not out.exists()


def test_budget_within_ten_percent_of_spend_is_a_warning(spent: ExampleWorkspace) -> None:
    set_budget(spent, 45000)  # 7 % above spend
    result = spent.run("plan", "--detailed-exitcode")
    assert result.code == 2, result  # the plan goes ahead
    assert "Warning:" in result.err and CAMPAIGN in result.err and "42000.5" in result.err


def test_skip_guardrails_allows_the_cut_and_says_so(spent: ExampleWorkspace, tmp_path: Path) -> None:
    set_budget(spent, 40000)
    out = tmp_path / "plan.json"
    result = spent.run("plan", "--skip-guardrails", "--out", str(out))
    assert result.code == 0, result
    assert "guardrails skipped" in result.err
    as_json = spent.run("plan", "--skip-guardrails", "--format", "json")
    assert "guardrails skipped" in as_json.out  # the saved/JSON plan carries the note too
    applied = spent.run("apply", str(out))
    assert applied.code == 0, applied


def test_a_budget_raise_asks_the_reporting_api_nothing(spent: ExampleWorkspace, server: SandboxServer) -> None:
    before = reporting_requests(server)
    set_budget(spent, 60000)
    assert spent.run("plan").code == 0
    assert reporting_requests(server) == before
