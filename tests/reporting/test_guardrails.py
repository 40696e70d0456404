"""The budget guardrail against the real sandbox (spend set exactly through its control endpoint).

Aspects covered:
- a planned update lowering ``total_budget`` / ``budget`` below spend to date is an ERROR naming both
  numbers; within 10 % above spend a WARNING; further above, nothing; the boundaries;
- only updates that *lower* a budget are checked (creates, replaces, raises, other fields and
  unknown before-values are not), and without such a change no request is made at all;
- spend is fetched in one batched report request per kind (campaign_to_date ``total_spend``);
  ids without delivery count as 0;
- when spend cannot be read the affected changes get an ERROR saying so (fail closed);
- the client is built from a provider config with the embedded sandbox's kind of credentials
  (username/password: the password grant).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import requests

from reconciler.providers.base import Finding, PlannedWrite, ProviderConfig, Severity
from reconciler.providers.http import RetryPolicy
from reconciler.providers.mediamath.guardrails import (
    budget_cuts,
    budget_findings,
    check_budgets,
    money_text,
    spend_to_date,
)
from reconciler.providers.mediamath.reporting import ReportingClient
from tests.sandbox.mediamath_reporting.fixtures import Reporting

DEMO = {"username": "demo", "password": "demo-password", "api_key": "demo-api-key"}


def reporting_client(rep: Reporting) -> ReportingClient:
    config = ProviderConfig(name="mediamath", endpoint=rep.url + "/mediamath", credentials=DEMO)
    client = ReportingClient.from_config(config)
    client.http.retry = RetryPolicy(attempts=2, base_delay=0.01)
    client.http.session.hooks["response"].append(rep.checker.hook)
    return client


def cut(kind: str, remote_id: str, before: Any, after: Any, action: str = "update", name: str = "x") -> PlannedWrite:
    field = "total_budget" if kind == "Campaign" else "budget"
    return PlannedWrite(address=f"mediamath.{kind}/{name}", kind=kind, action=action, remote_id=remote_id,
                        before={field: before, "name": "n"}, after={field: after, "name": "n"})


def report_queries(rep: Reporting) -> int:
    routes = requests.get(rep.url + "/_sandbox/counters").json()["routes"]
    return sum(n for key, n in routes.items() if key.startswith("mediamath-reporting POST"))


def findings(rep: Reporting, writes: Sequence[PlannedWrite]) -> list[Finding]:
    return check_budgets(reporting_client(rep), writes)


@pytest.fixture
def spent(rep: Reporting) -> Reporting:
    rep.control("spend", {"campaign_id": 1, "spend": 4250.13})
    rep.control("spend", {"strategy_id": 31, "spend": 1000.50})
    return rep


def test_below_spend_is_an_error_with_both_numbers(spent: Reporting) -> None:
    result = findings(spent, [cut("Campaign", "1", 10000, 4000, name="summer")])
    assert result == [Finding("mediamath.Campaign/summer", Severity.ERROR,
                              "total_budget 4000 is below spend to date 4250.13")]


def test_within_ten_percent_is_a_warning(spent: Reporting) -> None:
    result = findings(spent, [cut("Campaign", "1", "10000.00", "4500.00")])
    assert result == [Finding("mediamath.Campaign/x", Severity.WARNING,
                              "total_budget 4500 is within 10% of spend to date 4250.13")]


@pytest.mark.parametrize(
    ("after", "severity"),
    [
        (4250.12, Severity.ERROR),
        (4250.13, Severity.WARNING),  # equal to spend: not below
        (4675.14, Severity.WARNING),  # 4250.13 * 1.1 = 4675.143
        (4675.15, None),
        (6000, None),
    ],
)
def test_boundaries(spent: Reporting, after: float, severity: Severity | None) -> None:
    result = findings(spent, [cut("Campaign", "1", 10000, after)])
    assert [f.severity for f in result] == ([severity] if severity else [])


def test_strategy_budget(spent: Reporting) -> None:
    result = findings(spent, [cut("Strategy", "31", 5000, 900, name="video"), cut("Strategy", "31", 5000, 1050)])
    assert [(f.severity, f.message) for f in result] == [
        (Severity.ERROR, "budget 900 is below spend to date 1000.50"),
        (Severity.WARNING, "budget 1050 is within 10% of spend to date 1000.50"),
    ]


def test_one_batched_request_per_kind(spent: Reporting) -> None:
    requests.delete(spent.url + "/_sandbox/counters")
    writes = [cut("Campaign", "1", 10000, 100, name="a"), cut("Campaign", "3", 2000, 1, name="b"),
              cut("Campaign", "4", 1000, 500, name="c"), cut("Strategy", "31", 5000, 10, name="d"),
              cut("Strategy", "11", 3000, 1, name="e")]
    result = findings(spent, writes)
    assert report_queries(spent) == 2
    errors = {f.address for f in result if f.severity is Severity.ERROR}
    assert errors == {"mediamath.Campaign/a", "mediamath.Campaign/b", "mediamath.Strategy/d", "mediamath.Strategy/e"}
    # campaign 4 has not started: spend 0, so 500 is fine


def test_only_budget_cuts_are_checked_and_nothing_is_asked_otherwise(spent: Reporting) -> None:
    requests.delete(spent.url + "/_sandbox/counters")
    writes = [
        cut("Campaign", "1", 4000, 10000),  # raise
        cut("Campaign", "1", 10000, 100, action="create"),
        cut("Campaign", "1", 10000, 100, action="replace"),
        PlannedWrite("mediamath.Campaign/n", "Campaign", "update", "1", {"name": "a"}, {"name": "b"}),
        PlannedWrite("mediamath.Campaign/m", "Campaign", "update", "1", {}, {"total_budget": 1}),  # before unknown
        PlannedWrite("mediamath.BudgetFlight/f", "BudgetFlight", "update", "50", {"total_budget": 9}, {"total_budget": 1}),
        cut("Campaign", None, 10000, 100),  # type: ignore[arg-type]
    ]
    assert budget_cuts(writes) == []
    built: list[int] = []

    def factory() -> ReportingClient:
        built.append(1)
        return reporting_client(spent)

    assert check_budgets(factory, writes) == []
    assert built == [] and report_queries(spent) == 0


def test_spend_to_date_batches_and_defaults_to_zero(spent: Reporting) -> None:
    client = reporting_client(spent)
    result = spend_to_date(client, "Campaign", ["1", "4", "999"])
    assert result["1"] == 4250.13 and result["4"] == 0.0 and result["999"] == 0.0
    strategies = spend_to_date(client, "Strategy", ["11", "12"])
    campaign = spend_to_date(client, "Campaign", ["1"])["1"]
    assert round(strategies["11"] + strategies["12"], 2) == campaign
    with pytest.raises(ValueError):
        spend_to_date(client, "BudgetFlight", ["50"])


def test_unreadable_spend_fails_closed(spent: Reporting) -> None:
    requests.post(spent.url + "/_sandbox/faults", json={"fault_rate": 1.0, "weights": {"5xx": 1.0}})
    client = reporting_client(spent)
    client._token, client._expires = "a.b.c", float("inf")  # the token endpoint is failing too
    result = check_budgets(client, [cut("Campaign", "1", 10000, 4000)])
    assert len(result) == 1 and result[0].severity is Severity.ERROR
    assert result[0].message.startswith("cannot check total_budget 4000 against spend to date: POST ")
    assert "HTTP 503 [ServiceUnavailable]" in result[0].message


def test_budget_findings_with_a_plain_lookup() -> None:
    calls: list[tuple[str, list[str]]] = []

    def lookup(kind: str, ids: list[str]) -> dict[str, float]:
        calls.append((kind, ids))
        return {i: 100.0 for i in ids}

    writes = [cut("Campaign", "7", 500, 99), cut("Campaign", "8", 500, 105), cut("Strategy", "9", 500, 300)]
    result = budget_findings(writes, lookup)
    assert [(f.address, f.severity) for f in result] == [("mediamath.Campaign/x", Severity.ERROR),
                                                        ("mediamath.Campaign/x", Severity.WARNING)]
    assert calls == [("Campaign", ["7", "8"]), ("Strategy", ["9"])]  # 300 is far above 100
    assert money_text(__import__("decimal").Decimal("4000.00")) == "4000"
    assert money_text(__import__("decimal").Decimal("4000.5")) == "4000.50"
