"""The Reporting API v2 client against the sandbox over real HTTP (answers checked against the spec).

Aspects covered:
- streaming: header fields and count, rows yielded lazily as dicts, ``{"meta":{}}`` lines skipped,
  rows equal to the paged answer; progress callbacks;
- failures: an error line raises :class:`StreamFailed` (rows read, request id, vendor code and
  message); fewer or more rows than announced raise :class:`StreamCountMismatch`; an unknown total
  (-1) is not checked; a stream cut without an error line is a mismatch; bad lines (not JSON, no
  header, unannounced fields) raise :class:`StreamProtocolError` (from a tiny real HTTP server);
- requests: 400s become APIError with the vendor's code, message and request id;
- authentication: a static JWT, the password grant at ``<endpoint>-auth`` with renewal after a
  401, refused credentials, missing credentials; no secret in messages or repr;
- memory: peak memory while reading does not grow with the row count (1,200 vs 12,000 rows).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from reconciler.errors import APIError, AuthError, WorkspaceError
from reconciler.providers.http import RetryPolicy
from reconciler.providers.mediamath.reporting import (
    Filter,
    Order,
    ReportingClient,
    ReportRequest,
    StreamCountMismatch,
    StreamFailed,
    StreamProtocolError,
    default_auth_endpoint,
)
from tests.sandbox.mediamath_reporting.fixtures import ESTATE, NOW, Reporting

SEED_REQUEST = ReportRequest(  # seed 002's example, on the dataset whose table lists by_hour
    dataset="performance-hourly",
    fields=("campaign_id", "impressions"),
    filters=(Filter("organization_id", "=", 123456), Filter("advertiser_id", "=", 123456),
             Filter("campaign_name", "=~", "Test Campaign")),
    order=(Order("agg_timestamp", nulls_last=True),),
    rollup="by_hour",
    time_window="last_7_days",
)


def client_for(rep: Reporting, **credentials: str) -> ReportingClient:
    creds = credentials or {"access_token": rep.token}
    client = ReportingClient(rep.url + "/mediamath", creds, retry=RetryPolicy(attempts=2, base_delay=0.01))
    client.http.session.hooks["response"].append(rep.checker.hook)
    return client


def test_stream_yields_rows_and_skips_meta_lines(rep: Reporting) -> None:
    rep.control("stream", {"meta_every": 3})
    client = client_for(rep)
    seen: list[tuple[int, int]] = []
    with client.stream(SEED_REQUEST, progress=lambda n, total: seen.append((n, total)), progress_every=100) as stream:
        assert stream.fields == ("agg_timestamp", "campaign_id", "impressions")
        assert stream.total_items_count == 456
        rows = list(stream)
    assert len(rows) == 456 and stream.rows_read == 456 and stream.meta_lines == 152
    assert rows == rep.rows(SEED_REQUEST.body(), SEED_REQUEST.dataset)
    assert seen == [(100, 456), (200, 456), (300, 456), (400, 456), (456, 456)]
    assert rep.checker.counts["requests"] >= 1  # our request body validated against the spec


def test_rows_is_lazy(rep: Reporting) -> None:
    client = client_for(rep)
    rows = client.rows(SEED_REQUEST)
    first = next(rows)
    assert set(first) == {"campaign_id", "impressions", "agg_timestamp"}
    rows.close()  # stopping early is allowed and does not check the count


def test_error_line_raises_stream_failed(rep: Reporting) -> None:
    rep.control("stream", {"fail_after": 7, "error_code": "QueryTimeout", "message": "backend timed out"})
    client = client_for(rep)
    got: list[dict[str, Any]] = []
    with pytest.raises(StreamFailed) as info:
        for row in client.rows(SEED_REQUEST):
            got.append(row)
    error = info.value
    assert len(got) == 7 and error.rows_read == 7
    assert error.vendor_code == "QueryTimeout" and error.request_id and len(error.request_id) == 32
    assert "stream failed after 7 rows: backend timed out" in str(error)
    assert "POST http://127.0.0.1" in str(error) and "/mediamath/reporting/v2/performance" in str(error)
    assert isinstance(error, APIError)


@pytest.mark.parametrize(
    ("faults", "rows", "expected"),
    [
        ({"count_skew": 3}, 456, 459),
        ({"count_skew": -1}, 456, 455),
        ({"drop_every": 100}, 452, 456),
        ({"truncate_after": 10}, 10, 456),
    ],
)
def test_count_mismatch_is_detected(rep: Reporting, faults: dict[str, Any], rows: int, expected: int) -> None:
    rep.control("stream", faults)
    with pytest.raises(StreamCountMismatch) as info:
        list(client_for(rep).rows(SEED_REQUEST))
    assert (info.value.rows_read, info.value.expected) == (rows, expected)
    assert f"ended after {rows} rows but its header announced {expected}" in str(info.value)


def test_unknown_total_is_not_checked(rep: Reporting) -> None:
    rep.control("stream", {"unknown_total": True, "truncate_after": 10})
    with client_for(rep).stream(SEED_REQUEST) as stream:
        assert stream.total_items_count == -1
        assert len(list(stream)) == 10


def test_bad_requests_raise_api_errors_with_the_vendor_message(rep: Reporting) -> None:
    bad = ReportRequest("performance", ("campaign_id_test",), (Filter("campaign_id", "=", 1),), time_window="yesterday")
    with pytest.raises(APIError) as info:
        client_for(rep).stream(bad)
    assert info.value.status == 400 and info.value.vendor_code == "BadRequest"
    assert "field does not exist in this dataset: campaign_id_test (request_id " in str(info.value)
    with pytest.raises(APIError) as info:
        client_for(rep).page(bad)
    assert info.value.status == 400


def test_page(rep: Reporting) -> None:
    page = client_for(rep).page(SEED_REQUEST, page_index=2, page_size=100)
    assert (page.page_index, page.total_pages, page.items_count, page.total_items_count) == (2, 5, 100, 456)
    assert page.results == rep.rows(SEED_REQUEST.body(), SEED_REQUEST.dataset)[200:300]
    with pytest.raises(ValueError):
        client_for(rep).page(SEED_REQUEST, page_size=1001)


def test_request_objects_validate_themselves() -> None:
    with pytest.raises(ValueError):
        ReportRequest("performance", (), (Filter("a", "=", 1),), time_window="yesterday")
    with pytest.raises(ValueError):
        ReportRequest("performance", ("a",), (), time_window="yesterday")
    with pytest.raises(ValueError):
        ReportRequest("performance", ("a",), (Filter("a", "=", 1),))
    with pytest.raises(ValueError):
        Filter("a", "~", 1)
    with pytest.raises(ValueError):
        Filter(None, "or", filters=(Filter("a", "=", 1),))
    nested = Filter(None, "or", filters=(Filter("a", "=", (1, 2)), Filter("b", "isNull")))
    assert nested.to_json() == {"op": "or", "filters": [{"field": "a", "op": "=", "value": [1, 2]},
                                                        {"field": "b", "op": "isNull"}]}
    body = ReportRequest("performance", ("a",), (Filter("a", "=", 1),), start_time="2026-01-01T00:00:00Z",
                         end_time="2026-01-02T00:00:00Z", max_results=5).body((1, 10))
    assert body["pagination"] == {"page_index": 1, "page_size": 10} and "max_results" not in body
    assert body["start_time"] == "2026-01-01T00:00:00Z" and "time_window" not in body


# -- authentication -------------------------------------------------------------------------------
def test_password_grant_at_the_auth_endpoint_and_renewal(rep: Reporting) -> None:
    client = client_for(rep, username="demo", password="demo-password")
    assert client.auth_endpoint == rep.url + "/mediamath-auth"
    assert len(list(client.rows(SEED_REQUEST))) == 456
    first = client._token
    # a sandbox reset drops the signing key, so the token turns invalid: the client renews it once
    requests.post(rep.url + "/_sandbox/reset").raise_for_status()
    requests.post(rep.url + "/_sandbox/seed", json={"api": "mediamath", "name": "entities", "data": ESTATE})
    rep.control("clock", {"now": NOW})
    before = requests.get(rep.url + "/_sandbox/counters").json()["total"]
    assert client.page(SEED_REQUEST, page_size=1).total_items_count == 456
    assert client._token != first
    routes = requests.get(rep.url + "/_sandbox/counters").json()["routes"]
    assert sum(routes.values()) - before == 3  # refused query, token, query again


def test_refused_and_missing_credentials(rep: Reporting) -> None:
    client = client_for(rep, username="demo", password="wrong-password")
    with pytest.raises(AuthError) as info:
        client.page(SEED_REQUEST)
    assert "token request refused: Wrong email or password." in str(info.value)
    assert "wrong-password" not in str(info.value) and "wrong-password" not in repr(client)
    static = client_for(rep, access_token="not-a-jwt")
    with pytest.raises(AuthError) as info2:
        static.page(SEED_REQUEST)
    assert info2.value.status == 401 and "not-a-jwt" not in str(info2.value)
    with pytest.raises(WorkspaceError):
        ReportingClient(rep.url + "/mediamath", {"api_key": "k"})
    with pytest.raises(WorkspaceError):
        ReportingClient("mediamath.example", {"access_token": "x"})


def test_default_auth_endpoints() -> None:
    assert default_auth_endpoint("https://api.mediamath.com") == "https://auth.mediamath.com"
    assert default_auth_endpoint("https://t1sandbox.mediamath.com/") == "https://mediamath-dev.auth0.com"
    assert default_auth_endpoint("http://127.0.0.1:8787/mediamath") == "http://127.0.0.1:8787/mediamath-auth"


# -- protocol errors (a tiny real server that misbehaves) -------------------------------------------------
BAD_BODIES: dict[str, bytes] = {}


@pytest.fixture(scope="module")
def bad_server() -> Iterator[str]:
    """A real HTTP server answering ``/<case>/...`` with the raw body ``BAD_BODIES[case]``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        request.get_data()
        body = BAD_BODIES[request.path.split("/")[1]]
        return Response(body, content_type="application/jsonl")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _bad_client(base: str, body: bytes) -> ReportingClient:
    case = f"case{len(BAD_BODIES)}"
    BAD_BODIES[case] = body
    return ReportingClient(f"{base}/{case}/mediamath", {"access_token": "a.b.c"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the stream ended before its header"),
        (b"not json\n", "a line of the stream is not JSON"),
        (b"[1,2]\n", "a line of the stream is not a JSON object"),
        (b'{"columns":["a"]}\n', "the first line is not a stream header"),
        (b'{"fields":[{"name":"a"}],"total_items_count":1}\n{"b":1}\n', "fields the header did not announce: b"),
        (b'{"fields":[{"name":"a"}],"total_items_count":2}\n{"a":1}\n{"a":2}\n{"a":3', "not JSON"),
    ],
)
def test_protocol_errors(bad_server: str, body: bytes, message: str) -> None:
    client = _bad_client(bad_server, body)
    with pytest.raises(StreamProtocolError) as info:
        with client.stream(SEED_REQUEST) as stream:
            list(stream)
    assert message in str(info.value)


def test_error_line_before_the_header(bad_server: str) -> None:
    client = _bad_client(bad_server, b'{"error_code":"InternalServerError","request_id":"abc","message":"boom"}\n')
    with pytest.raises(StreamFailed) as info:
        client.stream(SEED_REQUEST)
    assert info.value.rows_read == 0 and "boom (request_id abc)" in str(info.value)


# -- memory -------------------------------------------------------------------------------------------
SERVER = """
from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import SandboxServer
server = SandboxServer(create_sandbox(names=["mediamath", "mediamath-reporting"]))
print(server.port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def separate_sandbox() -> Iterator[str]:
    """A sandbox in its own process, so that tracemalloc here sees the client alone."""
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(root)})
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _peak_while_reading(client: ReportingClient, hours: int) -> tuple[int, int]:
    request = ReportRequest("performance-hourly", ("strategy_id", "impressions", "total_spend"),
                            (Filter("campaign_name", "=~", "synthetic"),), rollup="by_hour",
                            start_time="2026-03-01T00:00:00Z", end_time=f"2026-03-{1 + hours // 24:02d}T00:00:00Z")
    tracemalloc.start()
    try:
        count = sum(1 for _ in client.rows(request))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_memory_does_not_grow_with_rows(separate_sandbox: str) -> None:
    url = separate_sandbox
    r = requests.post(f"{url}/_sandbox/seed", json={"api": "mediamath-reporting", "name": "synthetic", "data": {
        "campaigns": 5, "strategies_per_campaign": 10, "start_date": "2026-03-01T00:00:00Z",
        "end_date": "2026-12-31T00:00:00Z"}})
    assert r.status_code == 200
    token = requests.post(f"{url}/_sandbox/mediamath-reporting/token", json={}).json()["access_token"]
    client = ReportingClient(f"{url}/mediamath", {"access_token": token})
    _peak_while_reading(client, 24)  # warm up (imports, connection pool)
    small_rows, small = _peak_while_reading(client, 24)
    large_rows, large = _peak_while_reading(client, 240)
    assert (small_rows, large_rows) == (1_200, 12_000)
    assert small > 0 and large < small * 1.25 + 64 * 1024, (small, large)
