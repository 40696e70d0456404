"""The Reporting API v2 emulator over real HTTP, every answer checked against the vendor spec.

Aspects covered:
- seed 002's two request examples: the documented paged shape and the streamed shape (header with
  ``agg_timestamp`` first, data lines, ``{"meta":{}}`` lines), matching each other row for row;
- authentication: bearer JWTs (sandbox-signed, foreign well-formed), management-emulator tokens, the
  auth emulator's password grant; 401 for no token, the ``adama_session`` cookie, malformed, forged
  or expired tokens;
- request validation: unknown field (the documented message), dataset, method, content type,
  rollup, time windows per dataset, pagination bounds, filter and order shapes;
- every filter operator, nested ``and``/``or``, null checks, metric filters; ``order`` with
  ``desc`` and ``nulls_last``; paging;
- rollups (``agg_timestamp`` truncation, exact sums across rollups) and time windows (current_date
  / current_day, yesterday, last_N_hours, last_N_days, month_to_date, campaign_to_date,
  flight_to_date, start_time/end_time, time_window winning over start_time);
- synthetic metrics: deterministic, within budgets and flight dates; the spend control;
- stream faults (error line, truncation, max_results); all ten datasets answer with their fields;
- the packaged dataset catalogue equals what the vendor spec says.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from reconciler.sandbox.mediamath_reporting.catalog import CATALOG_FILE, datasets, extract
from tests.sandbox.mediamath_reporting.fixtures import (
    ESTATE,
    NOW,
    REPORTING,
    SEED_DATASET,
    SEED_PAGED,
    SEED_STREAMED,
    Reporting,
    control,
)
from tests.sandbox.mediamath_reporting.spec_check import load_spec

CTD: dict[str, Any] = {"rollup": "all", "time_window": "campaign_to_date"}
ALL_CAMPAIGNS = [{"field": "campaign_id", "value": [1, 2, 3, 4, 5]}]


def spend_by_campaign(rep: Reporting, **extra: Any) -> dict[int, float]:
    body = {"fields": ["campaign_id", "total_spend"], "filters": ALL_CAMPAIGNS, **CTD, **extra}
    return {r["campaign_id"]: r["total_spend"] for r in rep.rows(body)}


def foreign_jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT', 'kid': 'auth0-key'})}.{part(claims)}.c2lnbmF0dXJl"


# -- seed 002 examples ---------------------------------------------------------------------------
def test_seed_paged_example_has_the_documented_shape(rep: Reporting) -> None:
    r = rep.post(SEED_PAGED, SEED_DATASET)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"meta", "results"}
    meta = body["meta"]
    assert set(meta) == {"page_index", "total_pages", "items_count", "total_items_count", "status"}
    assert meta["status"] == "OK" and meta["page_index"] == 0
    # campaigns 1, 2 and 3 (=~ is case-insensitive) of organisation 123456, by hour, last 7 days;
    # campaign 2 started on March 10th (5 of the 7 days)
    assert meta["total_items_count"] == (7 + 5 + 7) * 24
    assert meta["total_pages"] == 5 and meta["items_count"] == 100
    first = body["results"][0]
    assert list(first) == ["campaign_id", "impressions", "agg_timestamp"]
    assert first["agg_timestamp"] == "2026-03-08T00:00:00Z"
    assert {row["campaign_id"] for row in rep.rows(SEED_PAGED, SEED_DATASET)} == {1, 2, 3}
    stamps = [row["agg_timestamp"] for row in body["results"]]
    assert stamps == sorted(stamps)
    assert all(isinstance(row["impressions"], int) for row in body["results"])
    assert rep.checker.counts["pages"] >= 1


def test_seed_streamed_example_has_the_documented_shape(rep: Reporting) -> None:
    rep.control("stream", {"meta_every": 2})
    lines = rep.stream(SEED_STREAMED, SEED_DATASET)
    header, rest = lines[0], lines[1:]
    assert header == {"fields": [{"name": "agg_timestamp"}, {"name": "campaign_id"}, {"name": "impressions"}],
                      "total_items_count": 456}
    data = [line for line in rest if line != {"meta": {}}]
    metas = [line for line in rest if line == {"meta": {}}]
    assert len(data) == 456 and len(metas) == 228
    assert rest[2] == {"meta": {}}  # after every second row, as in the seed's example
    assert data == rep.rows(SEED_STREAMED, SEED_DATASET)  # the same rows as the paged answer, in the same order
    assert rep.checker.counts["stream_rows"] >= 456


def test_stream_lines_are_compact_single_line_json(rep: Reporting) -> None:
    r = rep.post(SEED_STREAMED, SEED_DATASET, stream=True)
    raw = r.content.decode()
    assert raw.endswith("\n")
    first = raw.split("\n", 1)[0]
    assert first.startswith('{"fields":[{"name":"agg_timestamp"}') and ": " not in first


# -- authentication ------------------------------------------------------------------------------
def _post_with(rep: Reporting, headers: dict[str, str], **kwargs: Any) -> requests.Response:
    session = rep.checker.session()
    return session.post(f"{rep.url}{REPORTING}/{SEED_DATASET}", json=SEED_PAGED, headers=headers, **kwargs)


def test_requests_without_a_bearer_token_are_refused(rep: Reporting) -> None:
    r = _post_with(rep, {})
    assert r.status_code == 401 and r.json()["error_code"] == "Unauthorized"
    r = _post_with(rep, {}, cookies={"adama_session": "abc123"})
    assert r.status_code == 401 and "adama_session" in r.json()["message"]
    for bad in ("Basic dXNlcjpwdw==", "Bearer not-a-jwt", "Bearer a.b", "Bearer !!.??.xx"):
        r = _post_with(rep, {"Authorization": bad})
        assert r.status_code == 401, bad


def test_sandbox_jwts_are_verified(rep: Reporting) -> None:
    head, claims, sig = rep.token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    payload["https://api.mediamath.com/user_id"] = 3
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    r = _post_with(rep, {"Authorization": f"Bearer {head}.{forged}.{sig}"})
    assert r.status_code == 401 and r.json()["message"] == "invalid token signature"
    expired = rep.control("token", {"user": "demo", "expires_in": -10})["access_token"]
    r = _post_with(rep, {"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json()["message"] == "token expired"


def test_foreign_well_formed_jwts_and_management_tokens_are_accepted(rep: Reporting) -> None:
    token = foreign_jwt({"sub": "auth0|1", "exp": int(time.time()) + 600})
    assert _post_with(rep, {"Authorization": f"Bearer {token}"}).status_code == 200
    stale = foreign_jwt({"sub": "auth0|1", "exp": int(time.time()) - 600})
    assert _post_with(rep, {"Authorization": f"Bearer {stale}"}).status_code == 401
    mm = requests.post(f"{rep.url}/_sandbox/mediamath/token", json={"user": "demo"}).json()["access_token"]
    assert _post_with(rep, {"Authorization": f"Bearer {mm}"}).status_code == 200


def test_auth_emulator_password_grant(rep: Reporting) -> None:
    url = f"{rep.url}/mediamath-auth/oauth/token"
    good = requests.post(url, json={"grant_type": "password", "username": "demo", "password": "demo-password",
                                    "audience": "https://api.mediamath.com/"})
    assert good.status_code == 200
    data = good.json()
    assert data["token_type"] == "Bearer" and data["expires_in"] == 86400
    assert _post_with(rep, {"Authorization": f"Bearer {data['access_token']}"}).status_code == 200
    bad = requests.post(url, data={"grant_type": "password", "username": "demo", "password": "nope"})
    assert bad.status_code == 403 and bad.json() == {"error": "invalid_grant",
                                                     "error_description": "Wrong email or password."}
    assert requests.post(url, json={"grant_type": "client_credentials"}).status_code == 400


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fields": ["campaign_id_test"]}, "field does not exist in this dataset: campaign_id_test"),
        ({"fields": []}, "fields is required and must be a non-empty array"),
        ({"fields": ["campaign_id", "campaign_id"]}, "fields must not repeat a field"),
        ({"rollup": None}, "rollup is required"),
        ({"rollup": "by_year"}, "unknown rollup: by_year"),
        ({"time_window": None}, "time_window or start_time is required"),
        ({"time_window": "last_12_hours"}, "time window last_12_hours is not supported by this dataset"),
        ({"time_window": "forever"}, "time window forever is not supported by this dataset"),
        ({"filters": []}, "filters is required and must be a non-empty array"),
        ({"filters": [{"field": "nope", "value": 1}]}, "field does not exist in this dataset: nope"),
        ({"filters": [{"field": "campaign_id", "op": "~", "value": 1}]}, "unknown filter operator: ~"),
        ({"filters": [{"op": "or", "filters": [{"field": "campaign_id", "value": 1}]}]}, "needs at least 2 filters"),
        ({"filters": [{"field": "campaign_id", "op": ">", "value": [1, 2]}]}, "takes a single value"),
        ({"filters": [{"field": "campaign_id"}]}, "value is required for operator ="),
        ({"pagination": {"page_size": 0, "page_index": 0}}, "pagination.page_size must be between 1 and 1000"),
        ({"pagination": {"page_size": 1001, "page_index": 0}}, "pagination.page_size must be between 1 and 1000"),
        ({"pagination": {"page_size": 10, "page_index": -1}}, "pagination.page_index must be at least 0"),
        ({"order": [{"field": "clicks"}]}, "clicks must be one of the requested fields"),
        ({"order": [{"desc": True}]}, "order[0].field must be a non-empty string"),
        ({"rollup": "all"}, "agg_timestamp is only available with a rollup other than all"),
        ({"time_window": None, "start_time": "2026-03-01"}, "start_time must be an RFC 3339 date-time"),
        ({"time_window": None, "start_time": "2026-03-02T00:00:00Z", "end_time": "2026-03-01T00:00:00Z"},
         "end_time must be after start_time"),
        ({"time_zone": "UTC"}, "time_zone is not supported by this dataset (only by: performance-hourly)"),
    ],
)
def test_bad_requests_answer_400_bad_request(rep: Reporting, change: dict[str, Any], message: str) -> None:
    body = {**SEED_PAGED, "rollup": "by_day", **change}  # performance: the seed's body with a rollup it lists
    body = {k: v for k, v in body.items() if v is not None}
    r = rep.post(body)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["error_code"] == "BadRequest" and message in error["message"]
    assert len(error["request_id"]) == 32


def test_documented_error_example(rep: Reporting) -> None:
    r = rep.post({**SEED_PAGED, "fields": ["campaign_id_test"]}, SEED_DATASET)
    assert r.json()["message"] == "field does not exist in this dataset: campaign_id_test"
    assert r.headers["X-Request-Id"] == r.json()["request_id"]


def test_dataset_method_and_content_type_errors(rep: Reporting) -> None:
    r = rep.post(SEED_PAGED, dataset="no-such-dataset")
    assert r.status_code == 404 and r.json()["error_code"] == "NotFound"
    r = rep.http.get(f"{rep.url}{REPORTING}/performance")
    assert r.status_code == 405 and r.json()["error_code"] == "MethodNotAllowed"
    r = rep.http.post(f"{rep.url}{REPORTING}/performance", data="fields=campaign_id")
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = rep.http.post(f"{rep.url}{REPORTING}/performance", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["message"] == "the request body is not valid JSON"


def test_dataset_specific_rollups_and_windows(rep: Reporting) -> None:
    # seed 002's own example asks performance for by_hour, which its table does not list: refused
    for dataset in ("performance", "day-part", "all-dimensions-and-metrics", "pixel-loads"):
        r = rep.post({**SEED_PAGED, "rollup": "by_hour"}, dataset=dataset)
        assert r.status_code == 400 and "rollup by_hour is not supported" in r.json()["message"], dataset
    assert rep.post({**SEED_PAGED, "rollup": "by_hour"}, dataset="performance-hourly").status_code == 200
    wins = {**SEED_PAGED, "fields": ["campaign_id", "wins"], "rollup": "by_hour"}
    assert rep.post(wins, dataset="win-loss").status_code == 200
    assert rep.post({**SEED_PAGED, "time_window": "last_12_hours"}, dataset="performance-hourly").status_code == 200
    body = {"fields": ["campaign_id", "impressions"], "filters": SEED_PAGED["filters"], "rollup": "all",
            "start_time": "2026-03-01T00:00:00Z", "pagination": {"page_size": 10, "page_index": 0}}
    r = rep.post(body, dataset="reach-frequency")
    assert r.status_code == 400 and "needs a time_window" in r.json()["message"]
    assert rep.post({**body, "time_window": "last_7_days"}, dataset="reach-frequency").status_code == 200
    r = rep.post({**body, "time_window": "last_5_days"}, dataset="reach-frequency")
    assert r.status_code == 400
    # flight_to_date (seed prose only) is accepted where campaign_to_date is, and nowhere else
    assert rep.post({**body, "time_window": "flight_to_date"}).status_code == 200
    r = rep.post({**body, "fields": ["campaign_id", "wins"], "time_window": "flight_to_date"}, dataset="win-loss")
    assert r.status_code == 400 and "time window flight_to_date is not supported" in r.json()["message"]


# -- filters, order, paging ----------------------------------------------------------------------
def _ids(rep: Reporting, filters: list[dict[str, Any]], field: str = "campaign_id") -> list[Any]:
    rows = rep.rows({"fields": ["campaign_id", "strategy_id"], "filters": filters, **CTD})
    return sorted({r[field] for r in rows}, key=lambda v: (v is None, v))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"field": "campaign_id", "value": 3}], [3]),
        ([{"field": "campaign_id", "op": "=", "value": [1, 3, 99]}], [1, 3]),
        ([{"field": "campaign_id", "op": "!=", "value": 1}], [2, 3, 5]),
        ([{"field": "campaign_id", "op": "!=", "value": [1, 2]}], [3, 5]),
        ([{"field": "campaign_id", "op": ">", "value": 2}], [3, 5]),
        ([{"field": "campaign_id", "op": ">=", "value": 2}], [2, 3, 5]),
        ([{"field": "campaign_id", "op": "<", "value": 2}], [1]),
        ([{"field": "campaign_id", "op": "<=", "value": 2}], [1, 2]),
        ([{"field": "campaign_name", "op": "=~", "value": "TEST campaign"}], [1, 2, 3]),
        ([{"field": "campaign_name", "value": "test campaign 3"}], [3]),
        ([{"field": "organization_id", "value": "123456"}], [1, 2, 3]),
        ([{"field": "campaign_total_budget", "op": ">=", "value": 2000}], [1, 3, 5]),
        ([{"field": "campaign_start_date", "op": "<", "value": "2026-03-05T00:00:00Z"}], [1, 3, 5]),
        ([{"field": "strategy_groups", "value": "REM"}], [1]),  # "contains" on an array field
        ([{"field": "strategy_groups", "value": ["VIDEO", "REM"]}], [1, 3]),
        ([{"field": "strategy_id", "op": "isNull"}], [2, 5]),
        ([{"field": "strategy_id", "op": "isNotNull"}], [1, 3]),
        ([{"field": "flight_id", "op": "isNotNull"}, {"field": "campaign_id", "op": "<", "value": 10}], [1]),
        ([{"field": "x", "op": "and", "filters": [{"field": "campaign_id", "op": ">=", "value": 2},
                                                  {"field": "campaign_id", "op": "<", "value": 5}]}], [2, 3]),
        ([{"op": "or", "filters": [{"field": "campaign_id", "value": 1},
                                   {"op": "and", "filters": [{"field": "campaign_name", "op": "=~", "value": "other"},
                                                             {"field": "strategy_id", "op": "isNull"}]}]}], [1, 5]),
        ([{"field": "campaign_id", "value": 4}], []),  # starts in June: nothing delivered yet
    ],
)
def test_filter_operators(rep: Reporting, filters: list[dict[str, Any]], expected: list[int]) -> None:
    assert _ids(rep, filters) == expected


def test_metric_filters_apply_to_aggregated_rows(rep: Reporting) -> None:
    spend = spend_by_campaign(rep)
    threshold = sorted(spend.values())[2]
    body = {"fields": ["campaign_id", "total_spend"], "filters": [
        *ALL_CAMPAIGNS, {"field": "total_spend", "op": ">=", "value": threshold}], **CTD}
    rows = rep.rows(body)
    assert {r["campaign_id"] for r in rows} == {c for c, s in spend.items() if s >= threshold}
    # a metric filter that is not among the requested fields still applies
    body = {"fields": ["campaign_id"], "filters": [*ALL_CAMPAIGNS, {"field": "impressions", "op": ">", "value": 0},
                                                    {"field": "campaign_id", "op": "<", "value": 3}], **CTD}
    assert sorted(r["campaign_id"] for r in rep.rows(body)) == [1, 2]


def test_order_desc_and_nulls_last(rep: Reporting) -> None:
    base = {"fields": ["campaign_id", "strategy_id", "total_spend"], "filters": ALL_CAMPAIGNS, **CTD}
    rows = rep.rows({**base, "order": [{"field": "total_spend", "desc": True}]})
    spends = [r["total_spend"] for r in rows]
    assert spends == sorted(spends, reverse=True) and len(rows) == 5
    rows = rep.rows({**base, "order": [{"field": "strategy_id"}]})
    assert [r["strategy_id"] for r in rows] == [None, None, 11, 12, 31]
    rows = rep.rows({**base, "order": [{"field": "strategy_id", "nulls_last": True}]})
    assert [r["strategy_id"] for r in rows] == [11, 12, 31, None, None]
    rows = rep.rows({**base, "order": [{"field": "strategy_id", "desc": True, "nulls_last": True}]})
    assert [r["strategy_id"] for r in rows] == [31, 12, 11, None, None]
    rows = rep.rows({**base, "order": [{"field": "strategy_id", "desc": True}, {"field": "campaign_id", "desc": True}]})
    assert [(r["strategy_id"], r["campaign_id"]) for r in rows] == [(None, 5), (None, 2), (31, 3), (12, 1), (11, 1)]


def test_order_by_agg_timestamp_and_dimensions(rep: Reporting) -> None:
    base = {"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": [1, 2]}],
            "rollup": "by_day", "time_window": "last_3_days"}
    rows = rep.rows({**base, "order": [{"field": "agg_timestamp", "desc": True}, {"field": "campaign_id"}]})
    assert [(r["agg_timestamp"][:10], r["campaign_id"]) for r in rows] == [
        ("2026-03-14", 1), ("2026-03-14", 2), ("2026-03-13", 1), ("2026-03-13", 2), ("2026-03-12", 1), ("2026-03-12", 2)]
    rows = rep.rows({**base, "order": [{"field": "campaign_id", "desc": True}, {"field": "agg_timestamp"}]})
    assert [(r["campaign_id"], r["agg_timestamp"][:10]) for r in rows] == [
        (2, "2026-03-12"), (2, "2026-03-13"), (2, "2026-03-14"), (1, "2026-03-12"), (1, "2026-03-13"), (1, "2026-03-14")]
    ordered = rep.rows({**base, "order": [{"field": "impressions"}]})
    assert [r["impressions"] for r in ordered] == sorted(r["impressions"] for r in ordered)


def test_pages_cover_the_stream(rep: Reporting) -> None:
    body = {"fields": ["strategy_id", "clicks"], "filters": [{"field": "campaign_id", "value": [1, 3]}],
            "rollup": "by_hour", "time_window": "last_2_days"}
    streamed = [line for line in rep.stream(body, "performance-hourly")[1:] if line != {"meta": {}}]
    pages = [rep.page(body, "performance-hourly", size=7, index=i) for i in range(22)]
    assert pages[0]["meta"]["total_pages"] == 21 and pages[0]["meta"]["total_items_count"] == 3 * 48
    assert [row for p in pages for row in p["results"]] == streamed
    assert pages[-1]["results"] == [] and pages[-1]["meta"]["items_count"] == 0


# -- rollups and time windows --------------------------------------------------------------------
def test_rollups_truncate_agg_timestamp_and_add_up_exactly(rep: Reporting) -> None:
    base = {"fields": ["campaign_id", "impressions", "clicks", "total_spend"],
            "filters": [{"field": "campaign_id", "value": 1}],
            "start_time": "2026-03-01T00:00:00Z", "end_time": "2026-03-15T00:00:00Z"}
    totals: dict[str, tuple[int, int, int]] = {}
    for rollup, dataset in (("by_hour", "performance-hourly"), ("by_day", "performance"),
                            ("by_week", "performance"), ("by_month", "performance"), ("all", "performance")):
        rows = rep.rows({**base, "rollup": rollup}, dataset)
        totals[rollup] = (sum(r["impressions"] for r in rows), sum(r["clicks"] for r in rows),
                          round(sum(r["total_spend"] for r in rows) * 100))
        stamps = [datetime.fromisoformat(r["agg_timestamp"]) for r in rows] if rollup != "all" else []
        if rollup == "by_hour":
            assert len(rows) == 14 * 24
        if rollup == "by_day":
            assert len(rows) == 14 and all(s.hour == 0 for s in stamps)
        if rollup == "by_week":  # Mondays: 2026-02-23 (clipped to March 1st), 03-02, 03-09
            assert [s.date().isoformat() for s in stamps] == ["2026-02-23", "2026-03-02", "2026-03-09"]
        if rollup == "by_month":
            assert [r["agg_timestamp"] for r in rows] == ["2026-03-01T00:00:00Z"]
        if rollup == "all":
            assert len(rows) == 1 and "agg_timestamp" not in rows[0]
    assert len(set(totals.values())) == 1, totals


def test_time_windows(rep: Reporting) -> None:
    def stamps(window: str, rollup: str = "by_hour", dataset: str = "performance-hourly") -> list[str]:
        body = {"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": 1}],
                "rollup": rollup, "time_window": window}
        return [r["agg_timestamp"] for r in rep.rows(body, dataset)]

    today = stamps("current_day")
    assert today == stamps("current_date")  # seed 002's spelling
    assert today[0] == "2026-03-15T00:00:00Z" and today[-1] == "2026-03-15T12:00:00Z" and len(today) == 13
    yesterday = stamps("yesterday")
    assert len(yesterday) == 24 and {s[:10] for s in yesterday} == {"2026-03-14"}
    last = stamps("last_5_hours")  # up to but not including the current hour
    assert last == [f"2026-03-15T{h:02d}:00:00Z" for h in range(7, 12)]
    days = stamps("last_3_days", "by_day")
    assert days == ["2026-03-12T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-14T00:00:00Z"]
    mtd = stamps("month_to_date", "by_day")
    assert mtd[0] == "2026-03-01T00:00:00Z" and mtd[-1] == "2026-03-15T00:00:00Z"
    ctd = stamps("campaign_to_date", "by_day", "performance")
    assert ctd == mtd  # campaign 1 started on March 1st
    ftd = stamps("flight_to_date", "by_day", "performance")
    assert ftd[0] == "2026-03-10T00:00:00Z" and ftd[-1] == "2026-03-15T00:00:00Z"


def test_time_window_wins_over_start_time(rep: Reporting) -> None:
    body = {"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": 1}],
            "rollup": "by_day", "time_window": "yesterday", "start_time": "2026-03-01T00:00:00Z"}
    rows = rep.rows(body)
    assert [r["agg_timestamp"] for r in rows] == ["2026-03-14T00:00:00Z"]
    ranged = rep.rows({**{k: v for k, v in body.items() if k != "time_window"},
                       "end_time": "2026-03-03T06:00:00Z"})
    assert [r["agg_timestamp"][:10] for r in ranged] == ["2026-03-01", "2026-03-02", "2026-03-03"]


# -- synthetic metrics ---------------------------------------------------------------------------
def test_metrics_are_deterministic_and_within_budgets(rep: Reporting) -> None:
    first = spend_by_campaign(rep)
    assert spend_by_campaign(rep) == first
    assert set(first) == {1, 2, 3, 5}  # 4 has not started
    budgets = {1: 10000, 2: 500, 3: 2000, 5: 3000}
    assert all(0 < first[c] <= budgets[c] for c in first)
    strategies = rep.rows({"fields": ["strategy_id", "strategy_budget", "total_spend"],
                           "filters": [{"field": "strategy_id", "op": "isNotNull"}], **CTD})
    assert all(r["total_spend"] <= r["strategy_budget"] for r in strategies)
    # campaign spend is the sum of its strategies'
    by_strategy = {r["strategy_id"]: r["total_spend"] for r in strategies}
    assert round(by_strategy[11] + by_strategy[12], 2) == first[1]


def test_spend_stops_at_the_end_date_and_the_budget(rep: Reporting) -> None:
    rep.control("clock", {"now": "2026-03-25T00:00:00Z"})
    after_end = spend_by_campaign(rep)
    rep.control("clock", {"now": "2026-05-25T00:00:00Z"})
    later = spend_by_campaign(rep)
    assert later[2] == after_end[2]  # campaign 2 ended on March 20th
    assert later[3] <= 2000 and later[1] <= 10000
    rows = rep.rows({"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": 2}],
                     "rollup": "by_day", "time_window": "campaign_to_date"})
    assert rows[0]["agg_timestamp"] == "2026-03-10T00:00:00Z" and rows[-1]["agg_timestamp"] == "2026-03-20T00:00:00Z"


def test_spend_to_date_never_goes_down_when_a_budget_is_cut(rep: Reporting) -> None:
    def edit(budget: float) -> None:  # as jdoe, through the MediaMath emulator: the cut is in its history
        control(rep.url, "/_sandbox/mediamath/edit", {"collection": "campaigns", "id": 5, "fields": {"total_budget": budget}})

    spent = spend_by_campaign(rep)[5]
    assert spent > 5
    edit(1.0)  # far below what it spent
    assert spend_by_campaign(rep)[5] == spent  # what was spent stays spent
    edit(round(spent / 2, 2))
    assert spend_by_campaign(rep)[5] == spent


def test_derived_metrics_are_consistent(rep: Reporting) -> None:
    row = rep.rows({"fields": ["campaign_id", "impressions", "clicks", "ctr", "total_spend", "total_spend_cpm",
                               "total_spend_usd", "measurable", "in_view", "viewability_rate"],
                    "filters": [{"field": "campaign_id", "value": 1}], **CTD})[0]
    assert row["ctr"] == round(row["clicks"] / row["impressions"], 6)
    assert row["total_spend_cpm"] == round(row["total_spend"] * 1000 / row["impressions"], 4)
    assert row["total_spend_usd"] == row["total_spend"]
    assert row["in_view"] <= row["measurable"] <= row["impressions"]


def test_spend_control_sets_spend_to_date_exactly(rep: Reporting) -> None:
    assert rep.control("spend", {"campaign_id": 1, "spend": 4250.13})["entities"] == 2
    assert spend_by_campaign(rep)[1] == 4250.13
    rep.control("clock", {"now": "2026-03-20T00:00:00Z"})  # delivery stopped: still exact later
    assert spend_by_campaign(rep)[1] == 4250.13
    rep.control("spend", {"strategy_id": 31, "spend": 1999.99})
    assert spend_by_campaign(rep)[3] == 1999.99
    rep.control("spend", {"campaign_id": 1, "spend": None})
    assert spend_by_campaign(rep)[1] != 4250.13
    r = requests.post(f"{rep.url}/_sandbox/mediamath-reporting/spend", json={"campaign_id": 4, "spend": 10})
    assert r.status_code == 400 and "has not delivered yet" in r.json()["error"]


def test_synthetic_seed_adds_virtual_strategies(rep: Reporting) -> None:
    r = requests.post(f"{rep.url}/_sandbox/seed", json={"api": "mediamath-reporting", "name": "synthetic", "data": {
        "campaigns": 3, "strategies_per_campaign": 4, "start_date": "2026-03-01T00:00:00Z",
        "end_date": "2026-12-31T00:00:00Z"}})
    assert r.status_code == 200, r.text
    lines = rep.stream({"fields": ["strategy_id", "impressions"], "filters": [
        {"field": "campaign_name", "op": "=~", "value": "synthetic"}], "rollup": "by_hour",
        "start_time": "2026-03-14T00:00:00Z", "end_time": "2026-03-15T00:00:00Z"}, dataset="performance-hourly")
    assert lines[0]["total_items_count"] == 12 * 24 == len(lines) - 1


# -- stream faults and limits ----------------------------------------------------------------------
def test_stream_error_line_ends_the_stream(rep: Reporting) -> None:
    rep.control("stream", {"fail_after": 5, "meta_every": 0, "message": "backend timed out"})
    lines = rep.stream(SEED_STREAMED, SEED_DATASET)
    assert len(lines) == 1 + 5 + 1
    error = lines[-1]
    assert set(error) == {"error_code", "request_id", "message"} and error["message"] == "backend timed out"
    assert rep.checker.counts["errors"] >= 1


def test_stream_truncation_skew_and_max_results(rep: Reporting) -> None:
    rep.control("stream", {"truncate_after": 3, "meta_every": 0})
    lines = rep.stream(SEED_STREAMED, SEED_DATASET)
    assert lines[0]["total_items_count"] == 456 and len(lines) == 4
    rep.control("stream", {"count_skew": 2, "meta_every": 0})
    assert rep.stream(SEED_STREAMED, SEED_DATASET)[0]["total_items_count"] == 458
    rep.control("stream", {"unknown_total": True, "meta_every": 0})
    assert rep.stream(SEED_STREAMED, SEED_DATASET)[0]["total_items_count"] == -1
    rep.control("stream", {})
    lines = rep.stream({**SEED_STREAMED, "max_results": 10}, SEED_DATASET)
    assert lines[0]["total_items_count"] == 10 and len(lines) == 11


# -- every dataset ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(datasets()))
def test_every_dataset_answers_with_its_fields(rep: Reporting, name: str) -> None:
    info = datasets()[name]
    window = "yesterday"
    rollup = "by_day" if "all" not in info.rollups else "all"
    dims = [d for d in ("campaign_id", "advertiser_id", "deal_id") if d in info.fields][:1]
    fields = dims + list(info.metrics[:3])
    filters = [{"field": dims[0], "op": "isNotNull"}] if dims[0] != "deal_id" else [{"field": "deal_id", "op": "isNull"}]
    body = {"fields": fields, "filters": filters, "rollup": rollup, "time_window": window}
    page = rep.page(body, name, size=50)
    assert page["meta"]["total_items_count"] >= 1
    assert all(set(row) == set(fields) | ({"agg_timestamp"} if rollup != "all" else set()) for row in page["results"])
    lines = rep.stream(body, name)
    assert [f["name"] for f in lines[0]["fields"]] == (["agg_timestamp"] if rollup != "all" else []) + fields


def test_catalog_matches_the_vendor_spec() -> None:
    spec = load_spec()
    here = json.loads(CATALOG_FILE.read_text())
    assert here == json.loads(json.dumps(extract(spec)))
    perf = datasets()["performance"]
    assert (len(perf.dimensions), len(perf.metrics)) == (126, 88)
    assert len(datasets()) == 10


def test_clock_control_reports_now(rep: Reporting) -> None:
    assert rep.control("clock", {"now": NOW})["now"] == NOW
    real = rep.control("clock", {"now": None})["now"]
    assert abs(datetime.fromisoformat(real) - datetime.now(UTC)) < timedelta(minutes=5)


def test_the_spec_checker_catches_bad_answers() -> None:
    from tests.sandbox.mediamath_reporting.spec_check import SpecChecker, SpecViolation

    checker = SpecChecker()
    with pytest.raises(SpecViolation):
        checker.check_paged("performance", {"meta": {"page_index": -1, "status": "OK"}, "results": []})
    with pytest.raises(SpecViolation):
        checker.check_paged("performance", {"meta": {"status": "FINE"}, "results": []})
    with pytest.raises(SpecViolation):
        checker.check_error(400, {"error_code": "BadRequest", "message": "no request id"})
    with pytest.raises(SpecViolation):
        list(checker.check_lines(iter([b'{"fields":[{"title":"x"}],"total_items_count":1}'])))
    with pytest.raises(SpecViolation):
        list(checker.check_lines(iter([b'{"fields":[{"name":"a"}],"total_items_count":1}', b'{"b":1}'])))
    with pytest.raises(SpecViolation):
        list(checker.check_lines(iter([b'{"fields":[{"name":"a"}],"total_items_count":1}',
                                       b'{"error_code":"X","request_id":"r","message":"m"}', b'{"a":1}'])))


# -- time zones (only where the dataset's table lists them) ----------------------------------------
def _day_rows(rep: Reporting, **extra: Any) -> list[dict[str, Any]]:
    body = {"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": [1, 3]}],
            "rollup": "by_day", "time_window": "yesterday", **extra}
    return rep.rows(body, "performance-hourly")


def _hourly_sum(rep: Reporting, campaign: int, start: str, end: str) -> int:
    body = {"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": campaign}],
            "rollup": "by_hour", "start_time": start, "end_time": end}
    return sum(row["impressions"] for row in rep.rows(body, "performance-hourly"))


def test_time_zone_moves_days_windows_and_labels(rep: Reporting) -> None:
    # now is 2026-03-15T12:30Z = 08:30 in New York (EDT since March 8th): yesterday there is the
    # 14th from 04:00Z to 04:00Z
    rows = _day_rows(rep, time_zone="America/New_York")
    assert [(r["campaign_id"], r["agg_timestamp"]) for r in rows] == [
        (1, "2026-03-14T00:00:00-04:00"), (3, "2026-03-14T00:00:00-04:00")]
    for row in rows:
        assert row["impressions"] == _hourly_sum(rep, row["campaign_id"], "2026-03-14T04:00:00Z", "2026-03-15T04:00:00Z")
    assert _day_rows(rep, time_zone="UTC") == _day_rows(rep)
    assert [r["agg_timestamp"] for r in _day_rows(rep)] == ["2026-03-14T00:00:00Z"] * 2
    body = {"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": 1}],
            "rollup": "by_month", "time_window": "month_to_date", "time_zone": "Asia/Tokyo"}
    (month,) = rep.rows(body, "performance-hourly")
    assert month["agg_timestamp"] == "2026-03-01T00:00:00+09:00"
    assert month["impressions"] == _hourly_sum(rep, 1, "2026-03-01T00:00:00Z", "2026-03-15T13:00:00Z")  # campaign 1 starts March 1st 00:00Z


def test_time_zone_campaign_uses_each_campaigns_zone(rep: Reporting) -> None:
    zones = {1: "America/New_York", 3: "Asia/Tokyo"}
    campaigns = [{**c, "zone_name": zones[c["id"]]} for c in ESTATE["campaigns"] if c["id"] in zones]
    control(rep.url, "/_sandbox/seed", {"api": "mediamath", "name": "entities", "data": {"campaigns": campaigns}})
    rows = _day_rows(rep, time_zone="campaign", order=[{"field": "agg_timestamp"}])
    # Tokyo (21:30 on the 15th): yesterday is the 14th from 13th 15:00Z; New York's from 14th 04:00Z
    assert [(r["campaign_id"], r["agg_timestamp"]) for r in rows] == [
        (3, "2026-03-14T00:00:00+09:00"), (1, "2026-03-14T00:00:00-04:00")]
    assert rows[0]["impressions"] == _hourly_sum(rep, 3, "2026-03-13T15:00:00Z", "2026-03-14T15:00:00Z")
    assert rows[1]["impressions"] == _hourly_sum(rep, 1, "2026-03-14T04:00:00Z", "2026-03-15T04:00:00Z")
    lines = rep.stream({**_day_body(), "time_zone": "campaign"}, "performance-hourly")
    assert lines[0]["total_items_count"] == 2 == len(lines) - 1


def _day_body() -> dict[str, Any]:
    return {"fields": ["campaign_id", "impressions"], "filters": [{"field": "campaign_id", "value": [1, 3]}],
            "rollup": "by_day", "time_window": "yesterday"}


def test_time_zone_is_refused_where_the_spec_lists_none(rep: Reporting) -> None:
    for name, info in sorted(datasets().items()):
        window = info.time_windows[0].replace("_X_", "_2_")
        body = {"fields": [info.dimensions[-1]], "filters": [{"field": info.dimensions[-1], "op": "isNotNull"}],
                "rollup": info.rollups[0], "time_window": window, "time_zone": "UTC"}
        r = rep.post(body, name)
        if info.time_zones:
            assert name == "performance-hourly" and set(info.time_zones) == {"UTC", "campaign"}
            assert r.status_code == 200, r.text
        else:
            assert r.status_code == 400, (name, r.text)
            assert "time_zone is not supported by this dataset (only by: performance-hourly)" in r.json()["message"]
    bad = rep.post({**_day_body(), "time_zone": "Mars/Olympus"}, "performance-hourly")
    assert bad.status_code == 400 and bad.json()["message"] == "unknown time_zone: Mars/Olympus"
    bad = rep.post({**_day_body(), "time_zone": {"zone": "UTC"}}, "performance-hourly")
    assert bad.status_code == 400 and "time_zone must be a string" in bad.json()["message"]
