"""The money guardrails' below-spend check against the real sandbox (spend set exactly through
its control endpoint).

Aspects covered:
- a planned update lowering ``total_budget`` / ``budget`` below spend to date is an ERROR naming both
  numbers and the currency; within 10 % above spend a WARNING; further above, nothing; the boundaries;
- only updates that *lower* a budget are checked (creates, replaces, raises, other fields and
  unknown before-values are not), and without such a change no request is made at all;
- spend is fetched in one batched report request per kind (campaign_to_date ``total_spend``);
  ids without delivery count as 0; budget flights by ``flight_id``;
- when spend cannot be read the affected changes get an ERROR saying so (fail closed);
- the client is built from a provider config with the embedded sandbox's kind of credentials
  (username/password: the password grant).
(The other checks, on a workspace: ``tests/e2e/test_guardrails_example.py``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import requests

from reconciler.model import LiveObject
from reconciler.providers.base import Finding, PlannedWrite, ProviderConfig, Severity
from reconciler.providers.http import RetryPolicy
from reconciler.providers.mediamath.guardrails import (
    MoneySources,
    budget_cuts,
    check_money,
    money,
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
    parent = {} if kind == "Campaign" else {"campaign_id": "1"}
    return PlannedWrite(address=f"mediamath.{kind}/{name}", kind=kind, action=action, remote_id=remote_id,
                        before={field: before, "name": "n", **parent}, after={field: after, "name": "n", **parent})


def report_queries(rep: Reporting) -> int:
    routes = requests.get(rep.url + "/_sandbox/counters").json()["routes"]
    return sum(n for key, n in routes.items() if key.startswith("mediamath-reporting POST"))


def sources(client: ReportingClient | None, asked: list[str] | None = None) -> MoneySources:
    """Spend from the sandbox's Reporting API; every campaign in EUR."""

    def spend(kind: str, ids: list[str]) -> dict[str, float]:
        if asked is not None:
            asked.append(kind)
        assert client is not None
        return spend_to_date(client, kind, ids)

    return MoneySources(
        spend=spend,
        campaigns=lambda ids: {i: LiveObject("Campaign", i, {"currency_code": "EUR"}) for i in ids},
        flights=lambda campaign_id: [],
        history=lambda kind, remote_id: [],
    )


def findings(rep: Reporting, writes: Sequence[PlannedWrite]) -> list[Finding]:
    return check_money(writes, sources(reporting_client(rep)))


@pytest.fixture
def spent(rep: Reporting) -> Reporting:
    rep.control("spend", {"campaign_id": 1, "spend": 4250.13})
    rep.control("spend", {"strategy_id": 31, "spend": 1000.50})
    return rep


def test_below_spend_is_an_error_with_both_numbers(spent: Reporting) -> None:
    result = findings(spent, [cut("Campaign", "1", 10000, 4000, name="summer")])
    assert result == [Finding("mediamath.Campaign/summer", Severity.ERROR,
                              "total_budget 4,000.00 EUR is below spend to date 4,250.13 EUR")]


def test_within_ten_percent_is_a_warning(spent: Reporting) -> None:
    result = findings(spent, [cut("Campaign", "1", "10000.00", "4500.00")])
    assert result == [Finding("mediamath.Campaign/x", Severity.WARNING,
                              "total_budget 4,500.00 EUR is within 10% of spend to date 4,250.13 EUR")]


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
        (Severity.ERROR, "budget 900.00 EUR is below spend to date 1,000.50 EUR"),
        (Severity.WARNING, "budget 1,050.00 EUR is within 10% of spend to date 1,000.50 EUR"),
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
        PlannedWrite("mediamath.Campaign/n", "Campaign", "update", "1", {"name": "a"}, {"name": "b"}),
        PlannedWrite("mediamath.Campaign/m", "Campaign", "update", "1", {}, {"total_budget": 1}),  # before unknown
        PlannedWrite("mediamath.Advertiser/f", "Advertiser", "update", "50", {"total_budget": 9}, {"total_budget": 1}),
        cut("Campaign", None, 10000, 100),  # type: ignore[arg-type]
    ]
    assert budget_cuts(writes) == []
    asked: list[str] = []
    assert check_money(writes, sources(None, asked)) == []
    assert asked == [] and report_queries(spent) == 0


def test_spend_to_date_batches_and_defaults_to_zero(spent: Reporting) -> None:
    client = reporting_client(spent)
    result = spend_to_date(client, "Campaign", ["1", "4", "999"])
    assert result["1"] == 4250.13 and result["4"] == 0.0 and result["999"] == 0.0
    strategies = spend_to_date(client, "Strategy", ["11", "12"])
    campaign = spend_to_date(client, "Campaign", ["1"])["1"]
    assert round(strategies["11"] + strategies["12"], 2) == campaign
    with pytest.raises(ValueError):
        spend_to_date(client, "Advertiser", ["50"])


def test_unreadable_spend_fails_closed(spent: Reporting) -> None:
    requests.post(spent.url + "/_sandbox/faults", json={"fault_rate": 1.0, "weights": {"5xx": 1.0}})
    client = reporting_client(spent)
    client._token, client._expires = "a.b.c", float("inf")  # the token endpoint is failing too
    result = check_money([cut("Campaign", "1", 10000, 4000)], sources(client))
    assert len(result) == 1 and result[0].severity is Severity.ERROR
    assert result[0].message.startswith("cannot check total_budget 4,000.00 EUR against spend to date: POST ")
    assert "HTTP 503 [ServiceUnavailable]" in result[0].message


def test_below_spend_with_a_plain_lookup() -> None:
    calls: list[tuple[str, list[str]]] = []

    def lookup(kind: str, ids: list[str]) -> dict[str, float]:
        calls.append((kind, ids))
        return {i: 100.0 for i in ids}

    plain = MoneySources(spend=lookup, campaigns=lambda ids: {}, flights=lambda c: [], history=lambda k, i: [])
    writes = [cut("Campaign", "7", 500, 99), cut("Campaign", "8", 500, 105), cut("Strategy", "9", 500, 300)]
    result = check_money(writes, plain)
    assert [(f.address, f.severity) for f in result] == [("mediamath.Campaign/x", Severity.ERROR),
                                                        ("mediamath.Campaign/x", Severity.WARNING)]
    assert calls == [("Campaign", ["7", "8"]), ("Strategy", ["9"])]  # one request per kind
    assert "(campaign currency)" in result[0].message  # no currency known: said, never guessed
    assert money(__import__("decimal").Decimal("1234567.891"), "GBP") == "1,234,567.89 GBP"


def test_flights_totalling_less_than_the_campaign_spend() -> None:
    """Spend spread over two flights: a cut that leaves each flight above its own spend can still
    leave the campaign's flights below what the campaign spent."""
    flights = [LiveObject("BudgetFlight", "f1", {"campaign_id": "7", "total_budget": 20000}),
               LiveObject("BudgetFlight", "f2", {"campaign_id": "7", "total_budget": 25000})]
    spend = {"Campaign": {"7": 40000.0}, "BudgetFlight": {"f1": 19000.0, "f2": 21000.0}}
    plain = MoneySources(
        spend=lambda kind, ids: {i: spend[kind].get(i, 0.0) for i in ids},
        campaigns=lambda ids: {i: LiveObject("Campaign", i, {"currency_code": "GBP"}) for i in ids},
        flights=lambda campaign_id: flights if campaign_id == "7" else [],
        history=lambda kind, remote_id: [],
    )

    def flight(remote_id: str, before: int | None, after: int | None, action: str = "update") -> PlannedWrite:
        return PlannedWrite(f"mediamath.BudgetFlight/{remote_id}", "BudgetFlight", action, remote_id,
                            {"campaign_id": "7", "total_budget": before} if before is not None else {},
                            {"campaign_id": "7", "total_budget": after} if after is not None else {})

    # f2 cut to 21,500 (above its own 21,000): the flights total 41,500, above 40,000: a warning only
    assert [f.severity for f in check_money([flight("f2", 25000, 21500)], plain)] == [Severity.WARNING]
    # ... and to 20,500 with f1: both above their own spend, but together 40,500 -> 39,500 < 40,000
    result = check_money([flight("f1", 20000, 19500), flight("f2", 25000, 20000)], plain)
    messages = {f.address: f.message for f in result if f.severity is Severity.ERROR}
    assert messages["mediamath.BudgetFlight/f2"] == "total_budget 20,000.00 GBP is below spend to date 21,000.00 GBP"
    assert messages["mediamath.BudgetFlight/f1"] == (
        "the budget flights of campaign 7 would total 39,500.00 GBP, below the campaign's spend to date 40,000.00 GBP"
    )
    # a new flight that makes up for the cut: nothing to say about the total
    added = check_money([flight("f1", 20000, 19500), flight("f3", None, 5000, "create")], plain)
    assert all("would total" not in f.message for f in added)
