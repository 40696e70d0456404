"""The sandbox's control API (``/_sandbox/``) and what every emulator does with its own bugs.

Aspects covered, over real HTTP on 127.0.0.1:

- bodies: ``seed`` without a Content-Type, as a form, without ``api``, with an unknown ``api``;
  ``faults`` and ``rate-limits`` with unknown keys, wrong types or out-of-range values: each a 400
  naming what to send or the field, and nothing changed (issue 15, item 3);
- callers: a foreign ``Host`` (DNS rebinding) or a cross-site ``Origin`` is refused with 403
  before anything runs (the data is still there); loopback names and origins are accepted
  (issue 16, item 11);
- a handler that fails unexpectedly answers a JSON 500 in the API's own shape (a MediaMath client
  asking for XML gets XML), never werkzeug's HTML page, and its writes are rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from defusedxml import ElementTree as SafeET
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from reconciler.sandbox import SandboxServer, create_sandbox
from reconciler.sandbox.base import Emulator, Sandbox, Store
from reconciler.sandbox.control import is_loopback
from reconciler.sandbox.mediamath.app import MediaMathEmulator

TIMEOUT = 10


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox(names=["mediamath", "liveramp"])) as srv:
        yield srv


@pytest.fixture
def url(server: SandboxServer) -> str:
    requests.post(f"{server.url}/_sandbox/reset", timeout=TIMEOUT).raise_for_status()
    requests.post(f"{server.url}/_sandbox/faults", json={}, timeout=TIMEOUT).raise_for_status()
    return server.url


def error_of(response: requests.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    message: str = response.json()["error"]
    return message


# -- bodies ----------------------------------------------------------------------------------------
def test_seed_without_content_type_is_a_clear_400(url: str) -> None:
    raw = requests.post(f"{url}/_sandbox/seed", data=b'{"api": "mediamath", "name": "default"}', timeout=TIMEOUT)
    assert "Content-Type: application/json" in error_of(raw, 400)
    form = requests.post(f"{url}/_sandbox/seed", data={"api": "mediamath"}, timeout=TIMEOUT)
    assert "application/x-www-form-urlencoded" in error_of(form, 400)
    assert "seed needs a JSON body" in error_of(requests.post(f"{url}/_sandbox/seed", timeout=TIMEOUT), 400)
    assert "'api' is a required property" in error_of(
        requests.post(f"{url}/_sandbox/seed", json={"name": "estate"}, timeout=TIMEOUT), 400
    )
    unknown = error_of(requests.post(f"{url}/_sandbox/seed", json={"api": "nope"}, timeout=TIMEOUT), 400)
    assert "unknown api 'nope'" in unknown and "liveramp, mediamath" in unknown
    not_json = requests.post(
        f"{url}/_sandbox/seed", data=b"{api:", headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert "not valid JSON" in error_of(not_json, 400)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"fault_rate": 0.5, "colour": "red"}, "Additional properties are not allowed ('colour'"),
        ({"fault_rate": "often"}, "fault_rate: 'often' is not of type 'number'"),
        ({"fault_rate": 2}, "fault_rate: 2 is greater than the maximum of 1"),
        ({"latency_ms": -5}, "latency_ms: -5 is less than the minimum of 0"),
        ({"weights": {"5xx": 1, "teapot": 1}}, "weights: Additional properties are not allowed ('teapot'"),
        ({"weights": {"5xx": {"a": 1}}}, "weights.5xx: {'a': 1} is not of type 'number'"),
        ({"seed": 1.5}, "seed: 1.5 is not of type 'integer', 'null'"),
        ({"only_writes": "yes"}, "only_writes: 'yes' is not of type 'boolean'"),
        ([1, 2], "[1, 2] is not of type 'object'"),
    ],
)
def test_bad_fault_settings_are_400s_that_change_nothing(url: str, body: Any, expected: str) -> None:
    before = requests.get(f"{url}/_sandbox/faults", timeout=TIMEOUT).json()
    message = error_of(requests.post(f"{url}/_sandbox/faults", json=body, timeout=TIMEOUT), 400)
    assert message.startswith("faults: ") and expected in message, message
    assert requests.get(f"{url}/_sandbox/faults", timeout=TIMEOUT).json() == before


def test_bad_rate_limits_are_400s_and_good_ones_apply(url: str) -> None:
    bad = requests.post(f"{url}/_sandbox/rate-limits/mediamath", json={"rate": "fast"}, timeout=TIMEOUT)
    assert "rate-limits/mediamath: rate: 'fast' is not of type 'number'" in error_of(bad, 400)
    good = requests.post(f"{url}/_sandbox/rate-limits/mediamath", json={"rate": 5, "burst": 10}, timeout=TIMEOUT)
    assert good.status_code == 200 and good.json()["rate"] == 5
    requests.post(f"{url}/_sandbox/rate-limits/mediamath", json={}, timeout=TIMEOUT).raise_for_status()
    ok = requests.post(f"{url}/_sandbox/faults", json={"fault_rate": 0.25, "weights": {"5xx": 1}}, timeout=TIMEOUT)
    assert ok.status_code == 200 and ok.json()["fault_rate"] == 0.25


# -- callers ---------------------------------------------------------------------------------------
def agencies(url: str) -> int:
    session = requests.Session()
    session.params = {"api_key": "demo-api-key"}  # type: ignore[assignment]
    session.post(f"{url}/mediamath/api/v2.0/login", data={"user": "demo", "password": "demo-password"}, timeout=TIMEOUT)
    answer = session.get(f"{url}/mediamath/api/v2.0/agencies", headers={"Accept": "application/vnd.mediamath.v1+json"}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["meta"]["total_count"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "attacker.example"},  # DNS rebinding: the page's own name resolved to 127.0.0.1
        {"Host": "attacker.example:8787"},
        {"Host": "127.0.0.1.attacker.example"},
        {"Origin": "https://attacker.example"},  # a cross-site request from a browser
        {"Origin": "null"},
        {"Host": "localhost", "Origin": "http://192.168.1.10:8787"},
    ],
)
def test_foreign_callers_are_refused_before_anything_runs(url: str, headers: dict[str, str]) -> None:
    requests.post(
        f"{url}/_sandbox/seed", json={"api": "mediamath", "name": "entities", "data": {"agencies": [
            {"id": 5001, "name": "Kept", "organization_id": 100048}]}}, timeout=TIMEOUT
    ).raise_for_status()
    assert agencies(url) == 1
    refused = requests.post(f"{url}/_sandbox/reset", headers=headers, timeout=TIMEOUT)
    assert "is not this machine" in error_of(refused, 403)
    assert agencies(url) == 1  # the reset did not run
    assert requests.get(f"{url}/_sandbox/counters", headers=headers, timeout=TIMEOUT).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{}, {"Host": "localhost:1"}, {"Host": "[::1]:8787"}, {"Origin": "http://127.0.0.1:8787"},
     {"Origin": "http://localhost:3000"}],
)
def test_local_callers_are_served(url: str, headers: dict[str, str]) -> None:
    assert requests.post(f"{url}/_sandbox/reset", headers=headers, timeout=TIMEOUT).json() == {"reset": True}


def test_loopback_names() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST.", "[::1]", "::1"))
    assert not any(is_loopback(h) for h in ("", None, "0.0.0.0", "10.0.0.1", "localhost.example", "::", "example.com"))


# -- unexpected failures ---------------------------------------------------------------------------
class Boom(Emulator):
    """A test emulator on the real base whose handler writes, then fails."""

    name = "boom"
    rules = [Rule("/write-then-fail", methods=["POST"], endpoint="write_then_fail")]

    def write_then_fail(self, request: Request) -> Response:
        self.store.put(self.name, "things", "1", {"half": "written"})
        raise KeyError("a bug")


class BuggyMediaMath(MediaMathEmulator):
    """The real MediaMath emulator plus one route that fails after writing."""

    rules = [*MediaMathEmulator.rules, Rule("/api/v2.0/bug", methods=["POST"], endpoint="bug")]

    def bug(self, request: Request) -> Response:
        self._user(request)
        self.store.put(self.name, "bugs", "1", {"half": "written"})
        raise TypeError("unhashable type: 'dict'")


def test_a_failing_handler_answers_the_apis_own_500_and_writes_nothing() -> None:
    store = Store()
    with SandboxServer(Sandbox(store, [Boom, BuggyMediaMath])) as srv:
        boom = requests.post(f"{srv.url}/boom/write-then-fail", timeout=TIMEOUT)
        assert boom.status_code == 500 and boom.headers["Content-Type"] == "application/json"
        assert boom.json()["code"] == "internal_error" and "<html" not in boom.text.lower()
        assert store.get("boom", "things", "1") is None
        session = requests.Session()
        session.params = {"api_key": "demo-api-key"}  # type: ignore[assignment]
        session.post(f"{srv.url}/mediamath/api/v2.0/login", data={"user": "demo", "password": "demo-password"}, timeout=TIMEOUT)
        xml = session.post(f"{srv.url}/mediamath/api/v2.0/bug", timeout=TIMEOUT)
        assert xml.status_code == 500 and "xml" in xml.headers["Content-Type"], xml.text
        assert SafeET.fromstring(xml.text).find("status").get("code") == "error"
        as_json = session.post(
            f"{srv.url}/mediamath/api/v2.0/bug", headers={"Accept": "application/vnd.mediamath.v1+json"}, timeout=TIMEOUT
        )
        assert as_json.status_code == 500 and as_json.json()["meta"]["status"] == "error"
        assert store.get("mediamath", "bugs", "1") is None
