"""mediarithmics emulator over real HTTP (SandboxServer on 127.0.0.1).

Covers:
- the documented list example (``tests/vendor/mediarithmics-clean-rooms.page.txt``): seeded with ``docs``, the list answer equals the page's
  JSON value for value and key for key (order included); the single-room GET wrapper;
- auth: raw token only (``Bearer`` refused), missing/unknown token, organisation access (403),
  unknown room (404), all in the ``{status, error, error_code, error_id}`` envelope, no token echoed;
- ``first_result``/``max_results`` paging and its validation; ``organisation_id`` required;
- sandbox extension writes: create (owner ACCEPTED, others PENDING), duplicate name 409, rename,
  invite, accept/decline through the control endpoint, change purposes, archive a membership
  (archived_by/archived_ts), archive a room, re-invite, last_modified_by/ts updates, validation;
- injected faults answered in the vendor's error envelope; data kept across a restart (SQLite file).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.sandbox import SandboxServer, create_sandbox
from tests.vendor import MEDIARITHMICS_PAGE, vendor_file

TOKEN = "demo-token"
AUTH = {"Authorization": TOKEN}


def seed_list_example() -> dict[str, Any]:
    """The JSON answer printed under "List all Clean rooms" on the documentation page."""
    text = vendor_file(MEDIARITHMICS_PAGE).read_text(encoding="utf-8")
    start = text.index("{", text.index("Response"))
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    assert isinstance(value, dict)
    return value


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(create_sandbox(names=["mediarithmics"])) as srv:
        yield srv


@pytest.fixture
def url(server: SandboxServer) -> str:
    requests.post(f"{server.url}/_sandbox/reset", timeout=5).raise_for_status()
    return server.url


def api(url: str) -> str:
    return f"{url}/mediarithmics/v1"


def seed_docs(url: str) -> None:
    r = requests.post(f"{url}/_sandbox/seed", json={"api": "mediarithmics", "name": "docs"}, timeout=5)
    assert r.status_code == 200, r.text


def assert_error(r: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert list(body) == ["status", "error", "error_code", "error_id"]
    assert body["status"] == "error"
    assert body["error_code"] == code
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["error_id"], str) and len(body["error_id"]) >= 8
    assert TOKEN not in r.text
    return body


def create_room(
    url: str, name: str = "Retail room", members: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    members = members or [
        {"organisation_id": "1863", "purposes": ["ACTIVATION"]},
        {"organisation_id": "1752", "purposes": ["INSIGHTS", "ACTIVATION"]},
    ]
    body = {"organisation_id": "1863", "name": name, "clean_room_organisations": members}
    r = requests.post(f"{api(url)}/clean_rooms", json=body, headers=AUTH, timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    room: dict[str, Any] = r.json()["data"]
    return room


def get_room(url: str, room_id: str) -> dict[str, Any]:
    r = requests.get(f"{api(url)}/clean_rooms/{room_id}", headers=AUTH, timeout=5)
    assert r.status_code == 200, r.text
    room: dict[str, Any] = r.json()["data"]
    return room


def membership(room: dict[str, Any], org: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [m for m in room["clean_room_organisations"] if m["organisation_id"] == org]
    assert len(found) == 1
    return found[0]


def control(url: str, action: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{url}/_sandbox/mediarithmics/{action}", json=body, timeout=5)


# -- documented reads ------------------------------------------------------------------------------
def test_list_example_from_docs_comes_back_identical(url: str) -> None:
    expected = seed_list_example()
    seed_docs(url)
    r = requests.get(f"{api(url)}/clean_rooms", params={"organisation_id": "1863"}, headers=AUTH, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    got = r.json()
    assert got == expected

    def key_orders(value: Any) -> Any:
        if isinstance(value, dict):
            return [list(value), [key_orders(v) for v in value.values()]]
        if isinstance(value, list):
            return [key_orders(v) for v in value]
        return type(value).__name__

    assert key_orders(got) == key_orders(expected)  # same structure, same key order, same JSON types


def test_get_single_room_wrapper(url: str) -> None:
    expected = seed_list_example()["data"][1]
    seed_docs(url)
    r = requests.get(f"{api(url)}/clean_rooms/21", headers=AUTH, timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "data": expected}


def test_room_listed_for_owner_org_and_members(url: str) -> None:
    seed_docs(url)
    for org, ids in (("1581", ["21"]), ("1752", ["22", "21"]), ("1863", ["22", "21"])):
        r = requests.get(f"{api(url)}/clean_rooms", params={"organisation_id": org}, headers=AUTH, timeout=5)
        assert [room["clean_room_id"] for room in r.json()["data"]] == ids, org


# -- auth and errors -------------------------------------------------------------------------------
def test_bearer_prefix_missing_and_unknown_tokens_are_refused(url: str) -> None:
    params = {"organisation_id": "1863"}
    r = requests.get(f"{api(url)}/clean_rooms", params=params, timeout=5)
    assert_error(r, 401, "AUTHENTICATION_REQUIRED")
    r = requests.get(
        f"{api(url)}/clean_rooms", params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    body = assert_error(r, 401, "INVALID_AUTHENTICATION")
    assert "Bearer" in body["error"]
    r = requests.get(f"{api(url)}/clean_rooms", params=params, headers={"Authorization": "nope"}, timeout=5)
    assert_error(r, 401, "INVALID_AUTHENTICATION")
    r = requests.get(f"{api(url)}/clean_rooms/22", headers={"Authorization": "nope"}, timeout=5)
    assert_error(r, 401, "INVALID_AUTHENTICATION")


def test_access_not_found_and_bad_requests(url: str) -> None:
    seed_docs(url)
    data = {
        "users": [{"user_id": "2001", "organisations": ["1999"], "tokens": ["other-token"]}],
        "organisations": [{"organisation_id": "1999", "organisation_name": "Elsewhere"}],
    }
    requests.post(
        f"{url}/_sandbox/seed", json={"api": "mediarithmics", "data": data}, timeout=5
    ).raise_for_status()
    other = {"Authorization": "other-token"}
    r = requests.get(f"{api(url)}/clean_rooms", params={"organisation_id": "1863"}, headers=other, timeout=5)
    assert_error(r, 403, "ACCESS_DENIED")
    r = requests.get(f"{api(url)}/clean_rooms/22", headers=other, timeout=5)
    assert_error(r, 403, "ACCESS_DENIED")
    r = requests.get(f"{api(url)}/clean_rooms", params={"organisation_id": "1999"}, headers=other, timeout=5)
    assert r.json()["data"] == [] and r.json()["total"] == 0
    assert_error(
        requests.get(f"{api(url)}/clean_rooms/999", headers=AUTH, timeout=5), 404, "RESOURCE_NOT_FOUND"
    )
    assert_error(requests.get(f"{api(url)}/clean_rooms", headers=AUTH, timeout=5), 400, "BAD_REQUEST")
    r = requests.get(f"{api(url)}/clean_rooms", params={"organisation_id": "abc"}, headers=AUTH, timeout=5)
    assert_error(r, 400, "BAD_REQUEST")
    assert_error(requests.get(f"{api(url)}/nothing", headers=AUTH, timeout=5), 404, "RESOURCE_NOT_FOUND")
    assert_error(
        requests.patch(f"{api(url)}/clean_rooms/22", headers=AUTH, timeout=5), 405, "METHOD_NOT_ALLOWED"
    )


def test_each_error_has_its_own_error_id(url: str) -> None:
    ids = {
        requests.get(f"{api(url)}/clean_rooms/1", headers=AUTH, timeout=5).json()["error_id"]
        for _ in range(3)
    }
    assert len(ids) == 3


# -- paging ----------------------------------------------------------------------------------------
def test_first_result_and_max_results_paging(url: str) -> None:
    seed_docs(url)
    for i in range(5):
        create_room(url, name=f"room {i}")
    everything = requests.get(
        f"{api(url)}/clean_rooms", params={"organisation_id": "1863"}, headers=AUTH, timeout=5
    ).json()
    assert everything["total"] == 7 and everything["count"] == 7 and everything["max_results"] == 2147483647
    all_ids = [room["clean_room_id"] for room in everything["data"]]
    assert all_ids == sorted(all_ids, key=lambda i: (len(i), i), reverse=True)  # newest first
    seen: list[str] = []
    first = 0
    while True:
        params: dict[str, str | int] = {"organisation_id": "1863", "first_result": first, "max_results": 3}
        page = requests.get(f"{api(url)}/clean_rooms", params=params, headers=AUTH, timeout=5).json()
        assert page["first_result"] == first and page["max_results"] == 3 and page["total"] == 7
        assert page["count"] == len(page["data"]) <= 3
        seen += [room["clean_room_id"] for room in page["data"]]
        if not page["data"]:
            break
        first += page["count"]
    assert seen == all_ids
    for bad in ({"first_result": "-1"}, {"max_results": "x"}):
        r = requests.get(
            f"{api(url)}/clean_rooms", params={"organisation_id": "1863", **bad}, headers=AUTH, timeout=5
        )
        assert_error(r, 400, "BAD_REQUEST")


# -- sandbox extensions ----------------------------------------------------------------------------
def test_create_room_owner_accepted_others_pending(url: str) -> None:
    room = create_room(url)
    assert room["organisation_id"] == "1863" and room["name"] == "Retail room"
    assert isinstance(room["clean_room_id"], str) and room["clean_room_id"].isdigit()
    owner, partner = room["clean_room_organisations"]
    assert (owner["organisation_id"], owner["owner"], owner["status"]) == ("1863", True, "ACCEPTED")
    assert (partner["organisation_id"], partner["owner"], partner["status"]) == ("1752", False, "PENDING")
    assert partner["organisation_name"] == "AV Sub 2.4" and partner["purposes"] == ["INSIGHTS", "ACTIVATION"]
    assert partner["created_by"] == "1001" and isinstance(partner["created_ts"], int)
    assert partner["created_ts"] > 1_600_000_000_000  # epoch milliseconds
    assert partner["last_modified_by"] is None and partner["last_modified_ts"] is None
    assert partner["archived"] is False and partner["archived_by"] is None and partner["archived_ts"] is None
    assert get_room(url, room["clean_room_id"]) == room
    assert list(owner) == list(seed_list_example()["data"][0]["clean_room_organisations"][0])


def test_create_validation_and_duplicate_name(url: str) -> None:
    create_room(url, name="Same")
    body = {
        "organisation_id": "1863",
        "name": "Same",
        "clean_room_organisations": [{"organisation_id": "1863", "purposes": ["INSIGHTS"]}],
    }
    assert_error(
        requests.post(f"{api(url)}/clean_rooms", json=body, headers=AUTH, timeout=5), 409, "CONFLICT"
    )
    bad_bodies = [
        {
            **body,
            "name": "x",
            "clean_room_organisations": [{"organisation_id": "1752", "purposes": ["INSIGHTS"]}],
        },
        {
            **body,
            "name": "x",
            "clean_room_organisations": [{"organisation_id": "1863", "purposes": ["SPYING"]}],
        },
        {**body, "name": "x", "clean_room_organisations": [{"organisation_id": "1863", "purposes": []}]},
        {
            **body,
            "name": "x",
            "clean_room_organisations": [
                {"organisation_id": "1863", "purposes": ["INSIGHTS"]},
                {"organisation_id": "4242", "purposes": ["INSIGHTS"]},
            ],
        },
        {**body, "name": ""},
        {**body, "name": "x", "organisation_id": "x1"},
    ]
    for bad in bad_bodies:
        r = requests.post(f"{api(url)}/clean_rooms", json=bad, headers=AUTH, timeout=5)
        assert_error(r, 400, "BAD_REQUEST")
    r = requests.post(f"{api(url)}/clean_rooms", data="not json", headers=AUTH, timeout=5)
    assert_error(r, 400, "BAD_REQUEST")


def test_rename_records_last_modified_on_owner_membership(url: str) -> None:
    room = create_room(url)
    rid = room["clean_room_id"]
    r = requests.put(f"{api(url)}/clean_rooms/{rid}", json={"name": "Renamed"}, headers=AUTH, timeout=5)
    assert r.status_code == 200 and r.json()["data"]["name"] == "Renamed"
    live = get_room(url, rid)
    assert live["name"] == "Renamed"
    owner = membership(live, "1863")
    assert owner["last_modified_by"] == "1001" and owner["last_modified_ts"] >= owner["created_ts"]
    r = requests.put(
        f"{api(url)}/clean_rooms/{rid}",
        json={"name": "Renamed", "organisation_id": "1752"},
        headers=AUTH,
        timeout=5,
    )
    assert_error(r, 400, "BAD_REQUEST")


def test_invite_accept_decline_purposes_and_archive(url: str) -> None:
    seed = {"organisations": [{"organisation_id": "1900", "organisation_name": "Partner Nine"}]}
    requests.post(
        f"{url}/_sandbox/seed", json={"api": "mediarithmics", "data": seed}, timeout=5
    ).raise_for_status()
    room = create_room(url, members=[{"organisation_id": "1863", "purposes": ["INSIGHTS"]}])
    rid = room["clean_room_id"]
    members_url = f"{api(url)}/clean_rooms/{rid}/clean_room_organisations"

    r = requests.post(
        members_url,
        json={"organisation_id": "1752", "purposes": ["INSIGHTS", "ACTIVATION"]},
        headers=AUTH,
        timeout=5,
    )
    assert r.status_code == 200 and r.json()["data"]["status"] == "PENDING"
    assert_error(
        requests.post(
            members_url, json={"organisation_id": "1752", "purposes": ["INSIGHTS"]}, headers=AUTH, timeout=5
        ),
        409,
        "CONFLICT",
    )
    requests.post(
        members_url, json={"organisation_id": "1900", "purposes": ["INSIGHTS"]}, headers=AUTH, timeout=5
    ).raise_for_status()

    r = control(url, "accept", {"clean_room_id": rid, "organisation_id": "1752"})
    assert r.status_code == 200, r.text
    accepted = membership(get_room(url, rid), "1752")
    assert accepted["status"] == "ACCEPTED" and accepted["last_modified_by"] == "1001"
    assert accepted["last_modified_ts"] >= accepted["created_ts"]
    assert control(url, "accept", {"clean_room_id": rid, "organisation_id": "1752"}).status_code == 409
    r = control(url, "decline", {"clean_room_id": rid, "organisation_id": "1900", "user_id": "777"})
    assert r.status_code == 200
    declined = membership(get_room(url, rid), "1900")
    assert declined["status"] == "DECLINED" and declined["last_modified_by"] == "777"

    r = requests.put(f"{members_url}/1752", json={"purposes": ["ACTIVATION"]}, headers=AUTH, timeout=5)
    assert r.status_code == 200
    changed = membership(get_room(url, rid), "1752")
    assert (
        changed["purposes"] == ["ACTIVATION"] and changed["last_modified_ts"] > accepted["last_modified_ts"]
    )
    assert_error(
        requests.put(f"{members_url}/1752", json={"purposes": ["BOGUS"]}, headers=AUTH, timeout=5),
        400,
        "BAD_REQUEST",
    )

    r = requests.delete(f"{members_url}/1752", headers=AUTH, timeout=5)
    assert r.status_code == 200
    archived = membership(get_room(url, rid), "1752")
    assert archived["archived"] is True and archived["archived_by"] == "1001"
    assert archived["archived_ts"] == archived["last_modified_ts"] > changed["last_modified_ts"]
    assert archived["status"] == "ACCEPTED"
    assert_error(requests.delete(f"{members_url}/1752", headers=AUTH, timeout=5), 404, "RESOURCE_NOT_FOUND")
    assert_error(requests.delete(f"{members_url}/1863", headers=AUTH, timeout=5), 400, "BAD_REQUEST")
    listed = requests.get(
        f"{api(url)}/clean_rooms", params={"organisation_id": "1752"}, headers=AUTH, timeout=5
    ).json()
    assert rid not in [room["clean_room_id"] for room in listed["data"]]

    # re-inviting an archived (or declined) membership re-opens it as PENDING
    r = requests.post(
        members_url, json={"organisation_id": "1752", "purposes": ["INSIGHTS"]}, headers=AUTH, timeout=5
    )
    assert r.status_code == 200
    reopened = membership(get_room(url, rid), "1752")
    assert (reopened["status"], reopened["archived"], reopened["archived_ts"]) == ("PENDING", False, None)
    assert len(get_room(url, rid)["clean_room_organisations"]) == 3
    memberships = requests.get(members_url, headers=AUTH, timeout=5).json()
    assert memberships["count"] == 3 and memberships["data"] == get_room(url, rid)["clean_room_organisations"]


def test_archive_room_hides_it(url: str) -> None:
    room = create_room(url)
    rid = room["clean_room_id"]
    r = requests.delete(f"{api(url)}/clean_rooms/{rid}", headers=AUTH, timeout=5)
    assert r.status_code == 200
    assert all(m["archived"] and m["archived_ts"] for m in r.json()["data"]["clean_room_organisations"])
    assert_error(
        requests.get(f"{api(url)}/clean_rooms/{rid}", headers=AUTH, timeout=5), 404, "RESOURCE_NOT_FOUND"
    )
    listed = requests.get(
        f"{api(url)}/clean_rooms", params={"organisation_id": "1863"}, headers=AUTH, timeout=5
    ).json()
    assert listed["total"] == 0
    create_room(url)  # the name is free again


def test_writes_need_the_owner(url: str) -> None:
    data = {"users": [{"user_id": "2002", "organisations": ["1752"], "tokens": ["partner-token"]}]}
    requests.post(
        f"{url}/_sandbox/seed", json={"api": "mediarithmics", "data": data}, timeout=5
    ).raise_for_status()
    room = create_room(url)
    rid = room["clean_room_id"]
    partner = {"Authorization": "partner-token"}
    r = requests.put(f"{api(url)}/clean_rooms/{rid}", json={"name": "Mine now"}, headers=partner, timeout=5)
    assert_error(r, 403, "ACCESS_DENIED")
    # a member may leave (archive its own membership)
    r = requests.delete(
        f"{api(url)}/clean_rooms/{rid}/clean_room_organisations/1752", headers=partner, timeout=5
    )
    assert r.status_code == 200 and r.json()["data"]["archived_by"] == "2002"


# -- faults and persistence ------------------------------------------------------------------------
def test_injected_faults_use_the_vendor_envelope(url: str) -> None:
    requests.post(
        f"{url}/_sandbox/faults", json={"fault_rate": 1.0, "weights": {"429": 1.0}}, timeout=5
    ).raise_for_status()
    try:
        r = requests.get(
            f"{api(url)}/clean_rooms", params={"organisation_id": "1863"}, headers=AUTH, timeout=5
        )
        assert_error(r, 429, "TOO_MANY_REQUESTS")
        assert "Retry-After" in r.headers
    finally:
        requests.post(f"{url}/_sandbox/faults", json={}, timeout=5).raise_for_status()


def test_counters_separate_reads_and_writes(url: str) -> None:
    create_room(url)
    requests.get(f"{api(url)}/clean_rooms", params={"organisation_id": "1863"}, headers=AUTH, timeout=5)
    routes = requests.get(f"{url}/_sandbox/counters", timeout=5).json()["routes"]
    assert routes == {"mediarithmics GET list_clean_rooms": 1, "mediarithmics POST create_clean_room": 1}


def test_data_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.sqlite")
    first = create_sandbox(path, names=["mediarithmics"])
    with SandboxServer(first) as srv:
        room = create_room(srv.url, name="Kept")
    first.store.close()
    second = create_sandbox(path, names=["mediarithmics"])
    with SandboxServer(second) as srv:
        assert get_room(srv.url, room["clean_room_id"]) == room
    second.store.close()
