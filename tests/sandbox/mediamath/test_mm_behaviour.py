"""Behaviour of the MediaMath v2.0 emulator over real HTTP.

Aspects covered:

- auth: login with api_key + form (cookie ``adama_session``), wrong password / missing api_key,
  no credentials (401 ``auth_required``), ``GET /session`` with the cookie and with a bearer token
  issued by the ``token`` control (it sets the cookie too), a bad bearer (401 ``auth_error``), logout;
- organisation scope: 403 ``denied`` on reads and writes of another organisation's objects, and on
  creating under them; collections show only the user's organisation;
- 404 ``not_found`` for unknown ids, collections and paths;
- validation: required fields, enums, name lengths, numeric ranges, dates, unknown fields, zone
  names, references that do not exist (400 ``invalid`` with one ``field-error`` each);
- paging: ``page_limit`` above 100 (400), ``count`` = total matches, ``start`` = offset;
- ``q``: ==, !=, =: with wildcards, <, <=, >, >= on money, :null, :!null, (ids) and the id range,
  <substring>, ``&`` inside q (and a value containing ``&``), ``field==(a,b)``, unknown fields;
- ``sort_by`` with several keys and ``-``; ``/limit`` with dotted chains and plural relations;
  ``with`` plural relations and chains; ``full`` by type;
- versions: missing/stale version -> 409 ``<status code="conflict">Version Conflict</status>``,
  version bump and ``updated_on``, ``/history`` entries (add, update with old/new, user), the
  out-of-band ``edit`` control as ``jdoe`` and the ``delete`` control;
- budget flights below a campaign and top-level: create, list, update, overlap rule, delete, history;
- zoned datetimes (``<local_time>``), money with the campaign's currency, XML escaping;
- JSON mode shapes (entity, collection meta with next_page, money arrays, errors);
- rate limiting: 429 with Retry-After and X-RateLimit-* once the bucket is empty; request counters;
- the ``estate`` seed (10,000 strategies) and a fast ``q=(100 ids)&full=*`` over it;
- data survives a restart on a SQLite file.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from defusedxml import ElementTree as SafeET

from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import SandboxServer
from tests.sandbox.mediamath.mmclient import (
    API_KEY,
    JSON_ACCEPT,
    MM,
    campaign_fields,
    control,
    entity_dict,
    seed,
    status_code,
    strategy_fields,
)

OTHER_AGENCY = 104000


def field_errors(r: requests.Response) -> dict[str, str]:
    root = SafeET.fromstring(r.content)
    return {e.get("name"): e.get("error") for e in root.iter("field-error")}


def ids_of(r: requests.Response) -> list[int]:
    assert r.status_code == 200, r.text
    return [int(e.get("id")) for e in SafeET.fromstring(r.content).findall("entities/entity")]


# -- auth -------------------------------------------------------------------------------------------
def test_login_sets_cookie_and_session_reads_it(sandbox: SandboxServer) -> None:
    client = MM(sandbox)
    r = client.login()
    assert r.headers["Content-Type"].startswith("text/xml")
    root = SafeET.fromstring(r.content)
    assert root.find("entity").attrib == {"name": "demo", "id": "1", "type": "user"}
    sid = root.find("session").get("sessionid")
    assert client.http.cookies["adama_session"] == sid
    assert status_code(r.content) == "ok"
    again = client.get("/session")
    assert again.status_code == 200
    assert SafeET.fromstring(again.content).find("session").get("sessionid") == sid


def test_login_failures(sandbox: SandboxServer) -> None:
    base = sandbox.url + "/mediamath/api/v2.0"
    wrong = requests.post(f"{base}/login", params={"api_key": API_KEY}, data={"user": "demo", "password": "nope"})
    assert (wrong.status_code, status_code(wrong.content)) == (401, "invalid")
    assert "adama_session" not in wrong.cookies
    no_key = requests.post(f"{base}/login", data={"user": "demo", "password": "demo-password"})
    assert (no_key.status_code, status_code(no_key.content)) == (401, "auth_error")
    anonymous = requests.get(f"{base}/campaigns")
    assert (anonymous.status_code, status_code(anonymous.content)) == (401, "auth_required")
    forged = requests.get(f"{base}/campaigns", params={"api_key": API_KEY}, cookies={"adama_session": "0" * 40})
    assert (forged.status_code, status_code(forged.content)) == (401, "auth_required")


def test_every_cookie_call_carries_the_api_key(sandbox: SandboxServer) -> None:
    """The key is checked on every call made with the session cookie, not only at login (the SDK
    sends it on every request); calls with a bearer token carry none."""
    client = MM(sandbox)
    client.login()
    cookies = {"adama_session": client.http.cookies["adama_session"]}
    base = sandbox.url + "/mediamath/api/v2.0"
    for params in ({}, {"api_key": "someone-elses-key"}):
        for method, path in (("GET", "/organizations"), ("GET", "/session"), ("POST", "/agencies")):
            r = requests.request(method, base + path, params=params, cookies=cookies, data={"name": "x", "organization_id": 100048})
            assert (r.status_code, status_code(r.content)) == (401, "auth_error"), (params, path, r.text)
            assert b"api_key" in r.content
    with_key = requests.get(base + "/organizations", params={"api_key": API_KEY}, cookies=cookies)
    assert with_key.status_code == 200
    in_form = requests.post(base + "/agencies", cookies=cookies, data={"name": "Keyed", "organization_id": 100048, "api_key": API_KEY})
    assert in_form.status_code == 200, in_form.text
    token = control(sandbox, "token", {"user": "demo"}).json()["access_token"]
    assert requests.get(base + "/organizations", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_bearer_token_and_session_cookie(sandbox: SandboxServer) -> None:
    token = control(sandbox, "token", {"user": "jdoe"}).json()
    assert token["token_type"] == "Bearer" and token["user_id"] == 2
    base = sandbox.url + "/mediamath/api/v2.0"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    r = requests.get(f"{base}/session", headers=headers)
    assert r.status_code == 200
    assert SafeET.fromstring(r.content).find("entity").get("name") == "jdoe"
    cookie = r.cookies["adama_session"]
    key = {"api_key": API_KEY}
    assert requests.get(f"{base}/organizations", params=key, cookies={"adama_session": cookie}).status_code == 200
    assert requests.get(f"{base}/organizations", headers=headers).status_code == 200  # bearer: no api_key
    bad = requests.get(f"{base}/organizations", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, status_code(bad.content)) == (401, "auth_error")
    expired = control(sandbox, "token", {"user": "demo", "expires_in": -1}).json()["access_token"]
    r = requests.get(f"{base}/organizations", headers={"Authorization": f"Bearer {expired}"})
    assert (r.status_code, status_code(r.content)) == (401, "auth_error")
    assert control(sandbox, "token", {"user": "nobody"}).status_code == 400


def test_logout_ends_the_session(mm: MM) -> None:
    assert mm.post("/logout").status_code == 200
    r = mm.get("/organizations")
    assert (r.status_code, status_code(r.content)) == (401, "auth_required")


# -- scope, not found -------------------------------------------------------------------------------
def test_other_organisation_is_denied(mm: MM, sandbox: SandboxServer) -> None:
    r = mm.get(f"/agencies/{OTHER_AGENCY}")
    assert (r.status_code, status_code(r.content)) == (403, "denied")
    r = mm.post(f"/agencies/{OTHER_AGENCY}", {"name": "mine now", "version": "0"})
    assert (r.status_code, status_code(r.content)) == (403, "denied")
    r = mm.post("/advertisers", {"name": "x", "agency_id": OTHER_AGENCY, "vertical_id": 1, "ad_server_id": 1,
                                 "domain": "x.example"})
    assert (r.status_code, status_code(r.content)) == (403, "denied")
    assert mm.get("/organizations/100050").status_code == 403
    assert OTHER_AGENCY not in ids_of(mm.get("/agencies"))
    assert ids_of(mm.get("/organizations")) == [100048]
    outsider = MM(sandbox)
    outsider.login("outsider", "outsider-password")
    assert ids_of(outsider.get("/agencies")) == [OTHER_AGENCY]
    assert outsider.get("/users/1").status_code == 403


def test_not_found(mm: MM) -> None:
    for path in ("/campaigns/999999", "/nonsense", "/campaigns/12/nonsense", "/strategies/abc"):
        r = mm.get(path)
        assert (r.status_code, status_code(r.content)) == (404, "not_found"), path
    r = mm.post("/campaigns/999999", {"name": "x", "version": "0"})
    assert (r.status_code, status_code(r.content)) == (404, "not_found")


# -- validation ----------------------------------------------------------------------------------------
def test_create_validation_errors(mm: MM) -> None:
    r = mm.post("/campaigns", {"name": "no fields"})
    assert (r.status_code, status_code(r.content)) == (400, "invalid")
    assert set(field_errors(r)) == {"advertiser_id", "ad_server_id", "start_date", "end_date", "goal_type",
                                    "goal_value", "total_budget", "service_type", "use_mm_freq"}
    assert SafeET.fromstring(r.content).find("error").text == "Validation errors"

    h = mm.hierarchy()
    bad = strategy_fields(h["campaign"]["id"], name="x" * 129, goal_type="clicks", bid_aggressiveness="101",
                          max_bid="0", budget="abc", start_date="tomorrow", colour="red")
    errors = field_errors(mm.post("/strategies", bad))
    assert set(errors) == {"name", "goal_type", "bid_aggressiveness", "max_bid", "budget", "start_date", "colour"}
    assert "128" in errors["name"] and "cpa" in errors["goal_type"]

    errors = field_errors(mm.post("/campaigns", campaign_fields(h["advertiser"]["id"], zone_name="Mars/Base",
                                                                end_date="2024-01-01T00:00:00")))
    assert set(errors) == {"zone_name", "end_date"}
    errors = field_errors(mm.post("/advertisers", {"name": "A", "agency_id": 555555, "vertical_id": 99,
                                                   "ad_server_id": 9, "domain": "d"}))
    assert set(errors) == {"agency_id", "vertical_id"}
    long_name = mm.post("/agencies", {"name": "n" * 65, "organization_id": 100048})
    assert "64" in field_errors(long_name)["name"]


def test_update_validation_and_immutable_parent(mm: MM) -> None:
    h = mm.hierarchy()
    cid = h["campaign"]["id"]
    errors = field_errors(mm.post(f"/campaigns/{cid}", {"version": "0", "name": "", "suspicious_traffic_filter_level": "200"}))
    assert set(errors) == {"name", "suspicious_traffic_filter_level"}
    errors = field_errors(mm.post(f"/campaigns/{cid}", {"version": "0", "advertiser_id": "1", "id": cid}))
    assert set(errors) == {"advertiser_id", "id"}
    # read-only fields echoed back by clients are ignored, not errors
    ok = mm.post(f"/strategies/{h['strategy']['id']}", {"version": "0", "zone_name": "Asia/Tokyo", "name": "S2"})
    assert ok.status_code == 200 and entity_dict(SafeET.fromstring(ok.content).find("entity"))["zone_name"] == "Etc/GMT"


# -- collections -------------------------------------------------------------------------------------------
def _campaigns(mm: MM) -> tuple[dict[str, Any], list[int]]:
    h = mm.hierarchy()
    adv = h["advertiser"]["id"]
    specs = [("Alpha", "100", "1"), ("beta", "2500.50", "0"), ("Gamma & Delta", "10000", "1"),
             ("Alpha", "50", "0"), ("Epsilon", "99999", "1")]
    ids = [int(h["campaign"]["id"])]
    for name, budget, status in specs:
        ids.append(int(mm.create("campaigns", **campaign_fields(adv, name=name, total_budget=budget,
                                                                status=status, io_name=f"IO {name}"))["id"]))
    return h, ids


def test_paging_and_page_limit(mm: MM) -> None:
    _h, ids = _campaigns(mm)
    root = SafeET.fromstring(mm.get("/campaigns", page_limit=2, page_offset=3).content)
    entities = root.find("entities")
    assert (entities.get("count"), entities.get("start")) == ("6", "3")
    assert [int(e.get("id")) for e in entities] == ids[3:5]
    assert all(set(e.attrib) == {"name", "id", "type"} and len(e) == 0 for e in entities)
    r = mm.get("/campaigns", page_limit=101)
    assert (r.status_code, status_code(r.content)) == (400, "invalid")
    assert "page_limit" in field_errors(r)
    assert mm.get("/campaigns", page_limit=0).status_code == 400
    assert mm.get("/campaigns", page_offset=-1).status_code == 400


def test_q_operators(mm: MM) -> None:
    _h, ids = _campaigns(mm)
    a, alpha, beta, gamma, alpha2, eps = ids

    def q(expr: str) -> list[int]:
        return ids_of(mm.get("/campaigns", q=expr))

    assert q("name==Alpha") == [alpha, alpha2]
    assert q("name==alpha") == []
    assert q("name!=Alpha") == [a, beta, gamma, eps]
    assert q("name=:ALPHA") == [alpha, alpha2]
    assert q("name=:*ta*") == [beta, gamma]
    assert q("total_budget>=10000") == [a, gamma, eps]
    assert q("total_budget>10000") == [eps]
    assert q("total_budget<100") == [alpha2]
    assert q("total_budget<=100") == [alpha, alpha2]
    assert q("status==1&total_budget<10000") == [alpha]
    assert q("name==Gamma & Delta&status==1") == [gamma]
    assert q("goal_category:null") == ids
    assert q("io_name:!null&io_name=:IO*") == [alpha, beta, gamma, alpha2, eps]
    assert q(f"({eps},{alpha},{999999})") == [alpha, eps]
    assert q(f"id==({beta},{gamma})") == [beta, gamma]
    assert q("<GAMMA>") == [gamma]
    assert q("<io beta>") == [beta]
    assert q("created_on>2000-01-01") == ids
    for bad in ("(0)", "(2147483648)", "(1,x)", "colour==red", "total_budget>=lots", "name~~x", "status:maybe"):
        r = mm.get("/campaigns", q=bad)
        assert (r.status_code, status_code(r.content)) == (400, "invalid"), bad
        assert "q" in field_errors(r)


def test_sort_by(mm: MM) -> None:
    _h, ids = _campaigns(mm)
    a, alpha, beta, gamma, alpha2, eps = ids
    assert ids_of(mm.get("/campaigns", sort_by="name,-total_budget")) == [alpha, alpha2, a, eps, gamma, beta]
    assert ids_of(mm.get("/campaigns", sort_by="-id")) == list(reversed(ids))
    assert ids_of(mm.get("/campaigns", sort_by="-status,total_budget")) == [alpha, gamma, eps, alpha2, beta, a]
    r = mm.get("/campaigns", sort_by="colour")
    assert r.status_code == 400 and "sort_by" in field_errors(r)


def test_limit_chains_with_and_full(mm: MM) -> None:
    h = mm.hierarchy()
    other_agency = mm.create("agencies", name="Agency B", organization_id=100048)
    other_adv = mm.create("advertisers", name="Advertiser B", agency_id=other_agency["id"], vertical_id=2,
                          ad_server_id=1, domain="b.example")
    other_campaign = mm.create("campaigns", **campaign_fields(other_adv["id"], name="Campaign B"))
    cid, other_cid = int(h["campaign"]["id"]), int(other_campaign["id"])
    s2 = mm.create("strategies", **strategy_fields(cid, name="Strategy A2"))
    assert ids_of(mm.get(f"/campaigns/limit/advertiser={other_adv['id']}")) == [other_cid]
    assert ids_of(mm.get(f"/campaigns/limit/advertiser.agency={h['agency']['id']}")) == [cid]
    assert ids_of(mm.get("/strategies/limit/campaign.advertiser.agency.organization=100048")) == [
        int(h["strategy"]["id"]), int(s2["id"])]
    assert ids_of(mm.get(f"/campaigns/limit/strategies={s2['id']}")) == [cid]
    assert mm.get("/campaigns/limit/vendor=1").status_code == 400

    root = SafeET.fromstring(mm.get("/campaigns", **{"with": "strategies", "full": "strategy"}).content)
    first = root.find("entities/entity")
    assert "version" not in first.attrib and first.find("prop") is None
    children = first.findall("entity")
    assert [c.get("name") for c in children] == ["Strategy A", "Strategy A2"]
    assert all(c.get("rel") == "strategies" and c.get("type") == "strategy" and c.get("version") for c in children)

    root = SafeET.fromstring(mm.get(f"/strategies/{s2['id']}", **{"with": ["campaign,advertiser,agency", "campaign"]}).content)
    chain = root.find("entity/entity[@rel='campaign']/entity[@rel='advertiser']/entity[@rel='agency']")
    assert chain is not None and chain.get("name") == "Agency A"
    assert mm.get("/strategies", **{"with": "advertiser"}).status_code == 400
    assert mm.get("/strategies", full="widget").status_code == 400


# -- versions and history --------------------------------------------------------------------------------
def test_version_conflicts_and_history(mm: MM, sandbox: SandboxServer) -> None:
    h = mm.hierarchy()
    sid = h["strategy"]["id"]
    for data in ({"name": "no version"}, {"name": "stale", "version": "5"}):
        r = mm.post(f"/strategies/{sid}", data)
        assert r.status_code == 409
        status = SafeET.fromstring(r.content).find("status")
        assert (status.get("code"), status.text) == ("conflict", "Version Conflict")
    before = entity_dict(SafeET.fromstring(mm.get(f"/strategies/{sid}").content).find("entity"))
    time.sleep(1.05)
    r = mm.post(f"/strategies/{sid}", {"name": "Renamed", "budget": "150", "version": "0"})
    after = entity_dict(SafeET.fromstring(r.content).find("entity"))
    assert (after["version"], after["name"], after["budget"]) == ("1", "Renamed", "150.00")
    assert after["updated_on"] > before["updated_on"] and after["created_on"] == before["created_on"]

    edit = control(sandbox, "edit", {"collection": "strategies", "id": int(sid), "fields": {"max_bid": 3.5}})
    assert edit.status_code == 200, edit.text
    assert edit.json()["entity"]["version"] == 2
    assert mm.post(f"/strategies/{sid}", {"name": "mine", "version": "1"}).status_code == 409

    log = SafeET.fromstring(mm.get(f"/strategies/{sid}/history").content).find("log_entries")
    assert (log.get("count"), log.get("start")) == ("3", "0")
    entries = log.findall("entry")
    assert [(e.get("action"), e.get("user_name"), e.get("user_id")) for e in entries] == [
        ("update", "jdoe", "2"), ("update", "demo", "1"), ("add", "demo", "1")]
    assert [f.attrib for f in entries[0]] == [{"name": "max_bid", "new_value": "3.50", "old_value": "2.00"}]
    assert sorted((f.get("name"), f.get("old_value"), f.get("new_value")) for f in entries[1]) == [
        ("budget", "100.00", "150.00"), ("name", "Strategy A", "Renamed")]
    paged = SafeET.fromstring(mm.get(f"/strategies/{sid}/history", page_limit=1, page_offset=1).content)
    assert [e.get("user_name") for e in paged.iter("entry")] == ["demo"]

    denied = control(sandbox, "edit", {"collection": "strategies", "id": int(sid), "fields": {"name": "x"},
                                       "user": "outsider"})
    assert denied.status_code == 403
    invalid = control(sandbox, "edit", {"collection": "strategies", "id": int(sid), "fields": {"max_bid": "-1"}})
    assert invalid.status_code == 400 and "max_bid" in invalid.json()["error"]


# -- budget flights -------------------------------------------------------------------------------------------
def test_budget_flights(mm: MM, sandbox: SandboxServer) -> None:
    h = mm.hierarchy(zone="America/New_York", currency="EUR")
    cid = h["campaign"]["id"]
    base = f"/campaigns/{cid}/budget_flights"
    r = mm.post(base, {"start_date": "2025-01-01T05:00:00", "end_date": "2025-02-01T04:59:59", "total_budget": "1000"})
    assert r.status_code == 200, r.text
    flight = SafeET.fromstring(r.content).find("entity")
    fid = flight.get("id")
    budget = flight.find("prop[@name='total_budget']")
    assert budget.attrib == {"name": "total_budget", "currency_code": "EUR", "value": "1000.00"}
    assert budget.find("amount").attrib == {"currency_code": "EUR", "value": "1000.00"}
    local = flight.find("prop[@name='start_date']/local_time")
    assert local.attrib == {"value": "2025-01-01T00:00:00", "zone_name": "America/New_York"}

    overlap = mm.post(base, {"start_date": "2025-01-15T00:00:00", "end_date": "2025-03-01T00:00:00", "total_budget": "5"})
    assert overlap.status_code == 400 and "start_date" in field_errors(overlap)
    too_long = mm.post(base, {"start_date": "2025-03-01T00:00:00", "end_date": "2028-06-01T00:00:00", "total_budget": "5"})
    assert too_long.status_code == 400 and "end_date" in field_errors(too_long)
    second = mm.create("budget_flights", campaign_id=cid, start_date="2025-02-01T05:00:00",
                       end_date="2025-03-01T04:59:59", total_budget="2000")
    listed = SafeET.fromstring(mm.get(base).content).find("entities")
    assert listed.get("count") == "2" and all(e.get("version") == "0" for e in listed)
    assert ids_of(mm.get(f"/budget_flights/limit/campaign={cid}", sort_by="-total_budget")) == [
        int(second["id"]), int(fid)]

    updated = mm.post(f"{base}/{fid}", {"total_budget": "1500.5", "version": "0"})
    assert entity_dict(SafeET.fromstring(updated.content).find("entity"))["total_budget"] == "1500.50"
    assert mm.post(f"{base}/{fid}/delete", {"version": "0"}).status_code == 409
    assert mm.post(f"/campaigns/{cid}/budget_flights/{second['id']}/delete", {}).status_code == 409
    assert mm.post(f"{base}/{fid}/delete", {"version": "1"}).status_code == 200
    assert mm.get(f"{base}/{fid}").status_code == 404
    log = SafeET.fromstring(mm.get(f"/budget_flights/{fid}/history").content)
    assert [e.get("action") for e in log.iter("entry")] == ["delete", "update", "add"]
    assert mm.post("/campaigns/999999/budget_flights", {"total_budget": "1"}).status_code == 404


# -- formats ---------------------------------------------------------------------------------------------------------
def test_xml_escaping_and_reference_data(mm: MM) -> None:
    r = mm.get("/verticals", q="id==13", full="*")
    assert b"Food &amp; Beverages" in r.content
    vertical = SafeET.fromstring(r.content).find("entities/entity")
    assert vertical.get("name") == "Food & Beverages"
    assert ids_of(mm.get("/ad_servers", page_limit=100))[-1] == 9
    name = 'Tom & Jerry <"quoted">'
    created = mm.create("agencies", name=name, organization_id=100048)
    assert created["name"] == name
    assert mm.post("/verticals", {"name": "New"}).status_code == 403


def test_json_mode(sandbox: SandboxServer) -> None:
    client = MM(sandbox, json=True)
    login = client.login()
    assert login.headers["Content-Type"].startswith("application/vnd.mediamath.v1+json")
    assert login.json()["data"]["entity_type"] == "user" and login.json()["meta"]["status"] == "ok"
    xml_client = MM(sandbox)
    xml_client.login()
    h = xml_client.hierarchy(currency="GBP")
    body = client.get(f"/strategies/{h['strategy']['id']}", **{"with": "campaign"}).json()
    data, meta = body["data"], body["meta"]
    assert meta["status"] == "ok" and len(meta["etag"]) == 40 and meta["called_on"].endswith("+0000")
    assert data["entity_type"] == "strategy" and data["version"] == 0
    assert data["budget"] == [{"currency_code": "GBP", "value": 100.0}]
    assert data["status"] is False and data["run_on_display"] is True
    assert data["created_on"].endswith("+0000")
    assert data["campaign"]["rel"] == "campaign" and data["campaign"]["entity_type"] == "campaign"
    for i in range(3):
        xml_client.create("strategies", **strategy_fields(h["campaign"]["id"], name=f"more {i}"))
    page = client.get("/strategies", page_limit=2).json()
    assert page["meta"]["count"] == 2 and page["meta"]["total_count"] == 4 and page["meta"]["offset"] == 0
    assert "page_offset=2" in page["meta"]["next_page"]
    assert set(page["data"][0]) == {"entity_type", "id", "name"}
    last = client.get("/strategies", page_limit=2, page_offset=2).json()
    assert "next_page" not in last["meta"]
    invalid = client.post("/agencies", {"organization_id": 100048})
    assert invalid.status_code == 400
    assert invalid.json()["errors"] == [{"type": "field-error", "field": "name", "message": "is required"}]
    assert invalid.json()["meta"]["status"] == "invalid"
    missing = client.get("/agencies/1")
    assert missing.status_code == 404 and missing.json()["meta"]["status"] == "not_found"
    anonymous = requests.get(client.base + "/agencies", headers={"Accept": JSON_ACCEPT})
    assert anonymous.json()["meta"]["status"] == "auth_required"
    xml_client.post(f"/strategies/{h['strategy']['id']}", {"name": "renamed", "version": "0"})
    history = client.get(f"/strategies/{h['strategy']['id']}/history").json()
    assert history["meta"]["total_count"] == 2
    assert history["data"][0]["fields"] == [{"name": "name", "old_value": "Strategy A", "new_value": "renamed"}]
    assert history["data"][0]["user_name"] == "demo" and history["data"][0]["date"].endswith("+0000")


# -- limits and counters --------------------------------------------------------------------------------------
def test_rate_limit_429(mm: MM, sandbox: SandboxServer) -> None:
    defaults = requests.get(sandbox.url + "/_sandbox/rate-limits/mediamath").json()
    assert (defaults["rate"], defaults["burst"], defaults["max_concurrent_writes"]) == (40.0, 200.0, 150)
    requests.post(sandbox.url + "/_sandbox/rate-limits/mediamath", json={"rate": 0.5, "burst": 3})
    codes = [mm.get("/organizations").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = mm.get("/organizations")
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["X-RateLimit-Remaining"] == "0" and r.headers["X-RateLimit-Limit"] == "0.5"
    assert "X-RateLimit-Reset" in r.headers and r.headers["X-Concurrency-Remaining"] == "150"
    assert r.json()["meta"]["status"] == "error" and r.json()["errors"][0]["code"] == "rate_limit_exceeded"


def test_injected_faults_answer_in_the_vendor_shape(mm: MM, sandbox: SandboxServer) -> None:
    requests.post(sandbox.url + "/_sandbox/faults", json={"fault_rate": 1.0, "weights": {"5xx": 1}})
    r = mm.get("/organizations")
    assert r.status_code == 503 and r.json()["meta"]["status"] == "error"
    requests.post(sandbox.url + "/_sandbox/faults", json={"fault_rate": 1.0, "weights": {"429": 1}})
    r = mm.get("/organizations")
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_counters(mm: MM, sandbox: SandboxServer) -> None:
    requests.delete(sandbox.url + "/_sandbox/counters")
    mm.get("/organizations")
    mm.get("/organizations/100048")
    mm.get("/campaigns", q="(1,2)")
    mm.post("/agencies", {"name": "counted", "organization_id": 100048})
    routes = requests.get(sandbox.url + "/_sandbox/counters").json()["routes"]
    assert routes == {"mediamath GET list_entities": 2, "mediamath GET get_entity": 1,
                      "mediamath POST create_entity": 1}


# -- seeds, scale, persistence -------------------------------------------------------------------------------
def test_estate_seed_and_batched_refresh_is_fast(mm: MM, sandbox: SandboxServer) -> None:
    started = time.monotonic()
    result = seed(sandbox, "estate", {"agencies": 2, "advertisers": 10, "campaigns": 50, "strategies": 10000,
                                      "budget_flights": 100})
    assert time.monotonic() - started < 10
    assert result["counts"] == {"agencies": 2, "advertisers": 10, "campaigns": 50, "strategies": 10000,
                                "budget_flights": 100}
    strategy_ids = result["created"]["strategies"]
    wanted = strategy_ids[5000:5100]
    started = time.monotonic()
    r = mm.get("/strategies", q="(" + ",".join(map(str, wanted)) + ")", full="*", page_limit=100)
    elapsed = time.monotonic() - started
    assert ids_of(r) == wanted
    assert SafeET.fromstring(r.content).find("entities").get("count") == "100"
    assert elapsed < 1.0, elapsed
    assert SafeET.fromstring(mm.get("/strategies", page_limit=1).content).find("entities").get("count") == "10000"


def test_entities_seed_rejects_bad_payloads(sandbox: SandboxServer) -> None:
    r = requests.post(sandbox.url + "/_sandbox/seed", json={"api": "mediamath", "name": "entities",
                                                             "data": {"widgets": []}})
    assert r.status_code == 400
    r = requests.post(sandbox.url + "/_sandbox/seed", json={"api": "mediamath", "name": "entities",
                                                             "data": {"agencies": [{"id": 5, "colour": "red"}]}})
    assert r.status_code == 400 and "colour" in r.json()["error"]


def test_data_and_sessions_survive_a_restart(tmp_path: Any) -> None:
    path = str(tmp_path / "sandbox.sqlite")
    with SandboxServer(create_sandbox(path, names=["mediamath"])) as first:
        client = MM(first)
        client.login()
        agency = client.create("agencies", name="Persistent", organization_id=100048)
        cookie = client.http.cookies["adama_session"]
        first.app.store.close()
    with SandboxServer(create_sandbox(path, names=["mediamath"])) as second:
        r = requests.get(f"{second.url}/mediamath/api/v2.0/agencies/{agency['id']}",
                         params={"api_key": API_KEY}, cookies={"adama_session": cookie})
        assert r.status_code == 200
        assert entity_dict(SafeET.fromstring(r.content).find("entity"))["name"] == "Persistent"
        second.app.store.close()
