"""``reconciler report`` logic (:mod:`reconciler.report`) against the sandbox.

Aspects covered:
- ``--filter`` strings (every operator, lists, nulls, quoted strings, numbers, booleans) and
  ``--order`` strings; bad ones are InputErrors naming the option;
- the request: scope from the managed campaign/strategy ids (``or`` of both), default fields and
  time windows per dataset, conflicting options;
- output: CSV (header from the stream), JSON (one document), an aligned table; the default format
  follows the terminal; the rows written equal the API's rows;
- progress callbacks for long streams; vendor errors surface as APIError.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from reconciler.errors import APIError, InputError
from reconciler.providers.mediamath.reporting import Filter, Order, ReportingClient
from reconciler.report import (
    OutputFormat,
    ReportQuery,
    build_request,
    cell,
    parse_filter,
    parse_order,
    run_report,
)
from tests.sandbox.mediamath_reporting.fixtures import Reporting


def client(rep: Reporting) -> ReportingClient:
    c = ReportingClient(rep.url + "/mediamath", {"access_token": rep.token})
    c.http.session.hooks["response"].append(rep.checker.hook)
    return c


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("campaign_id=1", Filter("campaign_id", "=", 1)),
        ("campaign_id = 1,2, 3", Filter("campaign_id", "=", (1, 2, 3))),
        ("campaign_id!=4", Filter("campaign_id", "!=", 4)),
        ("total_spend>=100.5", Filter("total_spend", ">=", 100.5)),
        ("total_spend>1", Filter("total_spend", ">", 1)),
        ("impressions<10", Filter("impressions", "<", 10)),
        ("impressions<=10", Filter("impressions", "<=", 10)),
        ("campaign_name=~Summer Sale", Filter("campaign_name", "=~", "Summer Sale")),
        ("campaign_name='a,b'", Filter("campaign_name", "=", "a,b")),
        ("campaign_io_reference_num='123'", Filter("campaign_io_reference_num", "=", "123")),
        ("campaign_status=true", Filter("campaign_status", "=", True)),
        ("strategy_id=null", Filter("strategy_id", "isNull")),
        ("strategy_id!=NULL", Filter("strategy_id", "isNotNull")),
    ],
)
def test_parse_filter(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text", ["campaign_id", "campaign_id=", "=1", "campaign id=1", "a.b=1"])
def test_parse_filter_rejects(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_filter(text)
    assert f"--filter '{text}'" in str(info.value)


def test_parse_order() -> None:
    assert parse_order("-total_spend") == Order("total_spend", desc=True, nulls_last=True)
    assert parse_order("campaign_id") == Order("campaign_id", nulls_last=True)
    with pytest.raises(InputError):
        parse_order("-")


def test_build_request_scope_and_defaults() -> None:
    req = build_request(ReportQuery(campaign_ids=["3", "1"], strategy_ids=["11"]))
    assert req.filters == (
        Filter(None, "or", filters=(Filter("campaign_id", "=", (1, 3)), Filter("strategy_id", "=", (11,)))),
    )
    assert req.time_window == "campaign_to_date" and req.rollup == "all"
    assert req.fields[:2] == ("campaign_id", "campaign_name")
    req = build_request(
        ReportQuery(
            campaign_ids=["1"], filters=["total_spend>5"], dataset="performance-hourly", rollup="by_hour"
        )
    )
    assert req.filters == (Filter("campaign_id", "=", (1,)), Filter("total_spend", ">", 5))
    assert req.time_window == "yesterday"
    req = build_request(ReportQuery(filters=["campaign_id=2"], start_time="2026-03-01T00:00:00Z"))
    assert req.body()["start_time"] == "2026-03-01T00:00:00Z" and "time_window" not in req.body()
    with pytest.raises(InputError, match="nothing to report on"):
        build_request(ReportQuery())
    with pytest.raises(InputError, match="--field is required"):
        build_request(ReportQuery(dataset="deals", filters=["deal_id=1"]))
    with pytest.raises(InputError, match="exclude each other"):
        build_request(
            ReportQuery(filters=["campaign_id=2"], time_window="yesterday", start_time="2026-03-01T00:00:00Z")
        )
    with pytest.raises(InputError, match="--end-time needs --start-time"):
        build_request(ReportQuery(filters=["campaign_id=2"], end_time="2026-03-01T00:00:00Z"))
    with pytest.raises(InputError, match="each field once"):
        build_request(ReportQuery(filters=["campaign_id=2"], fields=["a", "a"]))


def test_csv_output_equals_the_api_rows(rep: Reporting) -> None:
    out = io.StringIO()
    summary = run_report(
        client(rep),
        ReportQuery(campaign_ids=["1", "2"], strategy_ids=["31"], order=["campaign_id", "strategy_id"]),
        fmt="csv",
        out=out,
    )
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    header = [
        "campaign_id",
        "campaign_name",
        "strategy_id",
        "strategy_name",
        "impressions",
        "clicks",
        "total_spend",
        "campaign_currency_code",  # spend is in each campaign's currency
    ]
    assert lines[0] == header
    expected = rep.rows(
        {
            "fields": header,
            "filters": [
                {
                    "op": "or",
                    "filters": [
                        {"field": "campaign_id", "op": "=", "value": [1, 2]},
                        {"field": "strategy_id", "op": "=", "value": [31]},
                    ],
                }
            ],
            "rollup": "all",
            "time_window": "campaign_to_date",
            "order": [
                {"field": "campaign_id", "nulls_last": True},
                {"field": "strategy_id", "nulls_last": True},
            ],
        }
    )
    assert lines[1:] == [[cell(r[f]) for f in header] for r in expected]
    assert [row[2] for row in lines[1:]] == ["11", "12", "", "31"]  # campaign 2 has no strategy
    assert summary.rows == 4 == summary.total_items_count


def test_json_output_is_one_document(rep: Reporting) -> None:
    out = io.StringIO()
    run_report(
        client(rep),
        ReportQuery(
            campaign_ids=["1"],
            fields=["campaign_id", "impressions"],
            rollup="by_day",
            time_window="last_3_days",
        ),
        fmt=OutputFormat.JSON,
        out=out,
    )
    doc = json.loads(out.getvalue())
    assert doc["dataset"] == "performance" and doc["fields"] == [
        "agg_timestamp",
        "campaign_id",
        "impressions",
    ]
    assert doc["total_items_count"] == 3 == len(doc["rows"])
    assert doc["rows"][0]["agg_timestamp"] == "2026-03-12T00:00:00Z"
    empty = io.StringIO()
    run_report(client(rep), ReportQuery(campaign_ids=["4"], fields=["campaign_id"]), fmt="json", out=empty)
    assert json.loads(empty.getvalue())["rows"] == []


def test_table_on_a_terminal_and_csv_otherwise(rep: Reporting) -> None:
    tty = Tty()
    run_report(
        client(rep),
        ReportQuery(
            campaign_ids=["1", "2", "3"],
            fields=["campaign_id", "campaign_name", "total_spend"],
            order=["-total_spend"],
        ),
        out=tty,
    )
    lines = tty.getvalue().splitlines()
    assert lines[0].split() == ["campaign_id", "campaign_name", "total_spend"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    widths = [len(part) for part in lines[1].split("  ")]
    assert widths == [11, 15, 11]
    assert len(lines) == 2 + 3
    spends = [float(line.split()[-1]) for line in lines[2:]]
    assert spends == sorted(spends, reverse=True)
    assert lines[2].index(lines[2].split()[-1]) + len(lines[2].split()[-1]) == len(lines[0])  # right-aligned
    plain = io.StringIO()
    run_report(client(rep), ReportQuery(campaign_ids=["1"], fields=["campaign_id"]), out=plain)
    assert plain.getvalue() == "campaign_id\n1\n"


def test_progress_for_long_streams(rep: Reporting) -> None:
    seen: list[tuple[int, int]] = []
    out = io.StringIO()
    run_report(
        client(rep),
        ReportQuery(
            campaign_ids=["1", "3"],
            fields=["campaign_id", "clicks"],
            rollup="by_hour",
            dataset="performance-hourly",
            time_window="last_3_days",
        ),
        fmt="csv",
        out=out,
        progress=lambda n, t: seen.append((n, t)),
        progress_every=50,
    )
    assert seen[-1] == (144, 144) and seen[0] == (50, 144) and len(seen) == 3
    assert out.getvalue().count("\n") == 145


def test_errors(rep: Reporting) -> None:
    with pytest.raises(APIError, match="field does not exist in this dataset: nope"):
        run_report(
            client(rep), ReportQuery(campaign_ids=["1"], fields=["nope"]), fmt="csv", out=io.StringIO()
        )
    with pytest.raises(InputError, match="--format 'xml' is not one of"):
        run_report(client(rep), ReportQuery(campaign_ids=["1"]), fmt="xml", out=io.StringIO())


def test_cell_formatting() -> None:
    values: list[Any] = [None, True, 0.1, 1234.5, 3.0, -0.0, [1, "a"], "x"]
    assert [cell(v) for v in values] == ["", "true", "0.1", "1234.5", "3", "0", '[1,"a"]', "x"]
