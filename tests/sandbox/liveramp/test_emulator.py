"""LiveRamp Clean Room API emulator over real HTTP; every answer is checked against the vendor
OpenAPI by the autouse response hook.

Aspects covered:
- health without auth; the token endpoint (Basic + form, camelCase answer, ``expiresAt`` with
  milliseconds and offset, 405/415/400/401), the 2-per-24 h issuance limit (429 without
  ``Retry-After``), its control endpoint and counters, the window and token expiry on the clock.
- errors in the live Spring shape; 401 without a token.
- clean rooms: types lookup, ``type``/``parameters`` renamed in answers, string flags, 409 on a
  duplicate name, PUT, fixed type, paging, delete.
- data connections and field configurations; datasets: configure, mappings and filters,
  partner assignment, no delete.
- invitations PENDING until the control endpoint accepts or declines; acceptance creates the
  partner (and its admin user); cancelling; roles; clean-room users (409 on duplicates).
- org-level questions (NPE quirks, versions), clean-room questions added by ``questionId`` or
  ``questionID``, ownership before assignment, READY, permissions (JSON body), parameters.
- run schedules (list in, map out); runs: 412 unless READY, progress, results, 20 per hour.
- persistence of the SQLite file across a restart.
"""

from __future__ import annotations

import re
from pathlib import Path

import requests

from reconciler.sandbox import create_sandbox
from reconciler.sandbox.base import SandboxServer
from tests.sandbox.liveramp.fixtures import DEMO, Api
from tests.sandbox.liveramp.openapi_check import OpenAPIChecker


def _token(server: SandboxServer, auth: tuple[str, str] = DEMO, **kwargs: object) -> requests.Response:
    return requests.post(f"{server.url}/liveramp/v1/oauth/token", auth=auth, data={"grant_type": "client_credentials"}, **kwargs)  # type: ignore[arg-type]


def test_health_needs_no_token(lr_server: SandboxServer) -> None:
    r = requests.get(f"{lr_server.url}/liveramp/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "UP", "statusCode": 200, "description": "External API is available", "version": "v1.0.0"}


def test_token_endpoint_shape_and_errors(lr_server: SandboxServer) -> None:
    url = f"{lr_server.url}/liveramp/v1/oauth/token"
    r = _token(lr_server)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"accessToken", "tokenType", "expiresIn", "expiresAt"}
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 43200
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$", body["expiresAt"])

    assert requests.get(url).status_code == 405
    assert requests.get(url).json()["status"] == "METHOD_NOT_ALLOWED"
    r = requests.post(url, json={"grant_type": "client_credentials"}, auth=DEMO)
    assert r.status_code == 415 and r.json()["status"] == "UNSUPPORTED_MEDIA_TYPE"
    assert requests.post(url, data={"grant_type": "client_credentials"}).status_code == 400
    assert _token(lr_server, ("demo-client", "wrong")).status_code == 401
    bad_grant = requests.post(url, auth=DEMO, data={"grant_type": "password"})
    assert bad_grant.status_code == 400


def test_token_issuance_limit_two_per_day(lr_server: SandboxServer) -> None:
    api = Api(lr_server)
    assert _token(lr_server).status_code == 200
    assert _token(lr_server).status_code == 200
    third = _token(lr_server)
    assert third.status_code == 429
    assert "Retry-After" not in third.headers
    assert "2 access tokens per 24 hours" in third.json()["message"]
    counters = api.control("GET", "counters")
    assert counters["tokens_issued"] == {"demo-client": 2}
    assert counters["tokens_refused"] == {"demo-client": 1}
    # another client has its own budget
    api.control("POST", "clients", json={"client_id": "ci-client", "client_secret": "s3cret"})
    assert _token(lr_server, ("ci-client", "s3cret")).status_code == 200
    # the window slides: 24 h later the client may fetch again
    api.control("POST", "clock", json={"advance_seconds": 86401})
    assert _token(lr_server).status_code == 200


def test_token_limit_is_configurable_and_tokens_expire(lr_server: SandboxServer) -> None:
    api = Api(lr_server)
    status = api.control("POST", "tokens", json={"limit": 5, "lifetime_seconds": 60})
    assert status["limit"] == 5 and status["lifetime_seconds"] == 60
    tokens = [_token(lr_server) for _ in range(5)]
    assert [t.status_code for t in tokens] == [200] * 5
    assert _token(lr_server).status_code == 429
    assert api.control("GET", "tokens")["issued_total"] == 5
    token = tokens[0].json()["accessToken"]
    rooms = f"{lr_server.url}/liveramp/v1/cleanrooms"
    assert requests.get(rooms, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    api.control("POST", "clock", json={"advance_seconds": 61})
    r = requests.get(rooms, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    api.control("POST", "tokens", json={"reset_budget": True})
    assert _token(lr_server).status_code == 200


def test_calls_need_a_bearer_token_and_errors_have_the_live_shape(lr_server: SandboxServer) -> None:
    r = requests.get(f"{lr_server.url}/liveramp/v1/cleanrooms")
    assert r.status_code == 401
    body = r.json()
    assert body["status"] == "UNAUTHORIZED" and body["code"] == 401
    assert body["message"] == "Full authentication is required to access this resource"
    assert body["details"] == "uri=/v1/cleanrooms"
    assert re.match(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}$", body["timestamp"])
    assert r.headers.get("x-request-id")
    r = requests.get(f"{lr_server.url}/liveramp/v1/cleanrooms", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_cleanrooms_types_renaming_and_string_flags(api: Api) -> None:
    types = api.ok("GET", "/cleanrooms/cleanroom-types")
    hybrid = next(t for t in types if t["name"] == "Hybrid")
    room = api.ok(
        "POST",
        "/cleanrooms",
        json={
            "name": "Retail insights",
            "description": "first",
            "type": "Hybrid",
            "startAt": "2025-01-01",
            "endAt": "2099-12-31",
            "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP", "ENABLE_EXPORT": True, "CROWD_SIZE": 50},
        },
    )
    assert "type" not in room and "parameters" not in room
    assert room["cleanRoomTypeId"] == hybrid["id"]
    assert room["cleanRoomParameters"] == {"CLOUD": "CLOUD_GCP", "CROWD_SIZE": "50", "ENABLE_EXPORT": "true", "REGION": "REGION_US"}
    assert room["startAt"].startswith("2025-01-01T") and room["endAt"].startswith("2099-12-31T")
    assert room["displayId"].startswith("CR-") and room["status"] == "ACTIVE"
    assert room["timeAudit"]["createdAt"]

    dup = api.call("POST", "/cleanrooms", json={"name": "Retail insights", "type": "Hybrid", "startAt": "2025-01-01", "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP"}})
    assert dup.status_code == 409 and dup.json()["status"] == "CONFLICT"
    missing = api.call("POST", "/cleanrooms", json={"name": "x", "type": "Hybrid", "startAt": "2025-01-01", "parameters": {"REGION": "REGION_US"}})
    assert missing.status_code == 400 and "CLOUD" in missing.json()["message"]
    joined = api.call(
        "POST",
        "/cleanrooms",
        json={"name": "y", "type": "Hybrid", "startAt": "2025-01-01", "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_AWS", "ENABLE_EXPORT, ENABLE_VIEW_QUERY": "true"}},
    )
    assert joined.status_code == 400 and "Unknown clean room parameter" in joined.json()["message"]
    bad_type = api.call("POST", "/cleanrooms", json={"name": "z", "type": "Oracle", "startAt": "2025-01-01", "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_AWS"}})
    assert bad_type.status_code == 400

    updated = api.ok(
        "PUT",
        f"/cleanrooms/{room['id']}",
        json={"name": "Retail insights", "description": "second", "type": "Hybrid", "startAt": "2025-02-01", "parameters": {"REGION": "REGION_EU", "CLOUD": "CLOUD_GCP"}},
    )
    assert updated["description"] == "second" and updated["cleanRoomParameters"] == {"CLOUD": "CLOUD_GCP", "REGION": "REGION_EU"}
    assert "endAt" not in updated
    fixed = api.call("PUT", f"/cleanrooms/{room['id']}", json={"name": "Retail insights", "type": "Snowflake", "startAt": "2025-02-01", "parameters": {"REGION": "REGION_EU", "CLOUD": "CLOUD_GCP"}})
    assert fixed.status_code == 400 and "type cannot be changed" in fixed.json()["message"]

    for i in range(3):
        api.cleanroom(f"room {i}")
    assert len(api.ok("GET", "/cleanrooms")) == 4
    assert [r["name"] for r in api.ok("GET", "/cleanrooms", params={"limit": 2, "offset": 1})] == ["room 0", "room 1"]
    assert api.call("GET", "/cleanrooms", params={"limit": "x"}).status_code == 400

    assert api.ok("DELETE", f"/cleanrooms/{room['id']}") == {"success": True}
    gone = api.call("GET", f"/cleanrooms/{room['id']}")
    assert gone.status_code == 404 and gone.json()["status"] == "NOT_FOUND"


def test_data_connections_field_configurations_and_datasets(api: Api) -> None:
    dc = api.connection()
    assert api.ok("GET", f"/data-connections/{dc['id']}")["configStatus"] == "COMPLETE"
    assert [c["name"] for c in api.ok("GET", "/data-connections")] == ["crm-upload"]
    fields = api.ok("GET", f"/data-connections/{dc['id']}/field-configurations")
    assert [f["fieldName"] for f in fields] == ["email_sha256", "age", "region"]
    bad = api.call("POST", f"/data-connections/{dc['id']}/field-configurations", json=[{"fieldName": "x", "dataType": "BLOB"}])
    assert bad.status_code == 400
    assert api.call("POST", "/data-connections", json={"name": "n", "dataType": {"name": "Nope"}, "dataSource": {"name": "snowflake"}}).status_code == 400
    api.ok("PUT", f"/data-connections/{dc['id']}", json={"name": "crm-v2", "dataType": {"name": "CRM"}, "dataSource": {"name": "client-aws-s3"}})
    assert api.ok("GET", f"/data-connections/{dc['id']}")["name"] == "crm-v2"
    assert api.call("PUT", f"/data-connections/{dc['id']}", json={"name": "crm-v2", "dataType": {"name": "CRM"}, "dataSource": {"name": "snowflake"}}).status_code == 400

    room = api.cleanroom()
    unmapped = api.ok("POST", "/data-connections", json={"name": "raw", "dataType": {"name": "Generic"}, "dataSource": {"name": "snowflake"}})
    assert api.call("POST", f"/cleanrooms/{room['id']}/datasets/configure", params={"dataConnectionId": unmapped["id"]}).status_code == 400
    ds = api.ok("POST", f"/cleanrooms/{room['id']}/datasets/configure", params={"dataConnectionId": dc["id"]}, json={"rampIDConsent": True})
    assert ds["dataConnectionId"] == dc["id"] and ds["partnerCanAssign"] is False
    assert [f["name"] for f in ds["datasetFields"]] == ["email_sha256", "age", "region"]
    again = api.call("POST", f"/cleanrooms/{room['id']}/datasets/configure", params={"dataConnectionId": dc["id"]})
    assert again.status_code == 400

    updated = api.ok(
        "PUT",
        f"/cleanrooms/{room['id']}/datasets/{ds['id']}",
        json={
            "datasetFieldMappings": [{"fieldName": "age", "isExcluded": True, "rename": ""}, {"fieldName": "region", "isExcluded": False, "rename": "geo"}],
            "datasetFilters": [{"datasetFieldName": "geo", "operator": "IN", "values": ["US", "CA"]}],
        },
    )
    assert [f["name"] for f in updated["datasetFields"]] == ["email_sha256", "geo"]
    assert updated["datasetFilters"][0]["values"] == ["US", "CA"]
    incomplete = api.call("PUT", f"/cleanrooms/{room['id']}/datasets/{ds['id']}", json={"datasetFieldMappings": [{"fieldName": "age"}]})
    assert incomplete.status_code == 400 and "isExcluded" in incomplete.json()["message"]

    assert api.ok("POST", f"/cleanrooms/{room['id']}/datasets/partner-assignment", json=[{"datasetId": ds["id"], "partnerCanAssign": True}]) == {"success": True}
    assert api.ok("GET", f"/cleanrooms/{room['id']}/datasets/{ds['id']}")["partnerCanAssign"] is True
    assert len(api.ok("GET", f"/cleanrooms/{room['id']}/datasets")) == 1
    no_delete = api.call("DELETE", f"/cleanrooms/{room['id']}/datasets/{ds['id']}")
    assert no_delete.status_code == 405
    assert len(api.ok("GET", f"/cleanrooms/{room['id']}/datasets")) == 1


def test_lookups(api: Api) -> None:
    sources = api.ok("GET", "/data-sources")
    s3 = next(s for s in sources if s["name"] == "client-aws-s3")
    assert api.ok("GET", f"/data-sources/{s3['id']}") == s3
    types = api.ok("GET", f"/data-sources/{s3['id']}/data-types")
    crm = next(t for t in types if t["name"] == "CRM")
    assert api.ok("GET", f"/data-sources/data-types/{crm['id']}") == crm
    assert api.ok("GET", "/data-connections/import-data-types") == types
    assert any(i["name"] == "RampID" for i in api.ok("GET", "/identifier-types"))
    assert api.call("GET", "/data-sources/nope").status_code == 404


def test_invitations_stay_pending_until_the_control_endpoint_accepts(api: Api) -> None:
    room = api.cleanroom()
    inv = api.ok("POST", f"/cleanrooms/{room['id']}/partners", json={"partnerAdminEmail": "admin@partner.example"})
    assert inv["Status"] == "PENDING" and inv["InvitorEmail"] == "api@demo-advertiser.example"
    assert inv["invitationNote"].startswith("We are making some insights")
    assert api.ok("GET", f"/cleanrooms/{room['id']}/partners") == []
    assert api.call("POST", f"/cleanrooms/{room['id']}/partners", json={"partnerAdminEmail": "admin@partner.example"}).status_code == 400

    accepted = api.control("POST", f"invitations/{inv['id']}/accept", json={"organizationName": "Partner Media"})
    assert accepted["invitation"]["Status"] == "ACCEPTED"
    partners = api.ok("GET", f"/cleanrooms/{room['id']}/partners")
    assert [p["name"] for p in partners] == ["Partner Media"]
    partner = partners[0]
    assert partner["userCount"] == 1 and partner["cleanRoomUsers"][0]["role"]["name"] == "Partner Administrator"
    invitations = api.ok("GET", f"/cleanrooms/{room['id']}/invitations")
    assert [i["Status"] for i in invitations] == ["ACCEPTED"]
    assert invitations[0]["partnerOrganizationId"] == partner["partnerOrganizationId"]
    assert api.ok("GET", f"/cleanrooms/{room['id']}")["partners"] == ["Partner Media"]
    owners = {s["ownership"] for s in api.ok("GET", f"/cleanrooms/{room['id']}/stakeholders")}
    assert owners == {"OWNER", "PARTNER"}

    roles = api.ok("GET", f"/cleanrooms/{room['id']}/partners/{partner['id']}/cleanRoomRoles")
    analyst = next(r for r in roles if r["name"] == "Analyst")
    admin = next(r for r in roles if r["name"] == "Partner Administrator")
    user_id = partner["cleanRoomUsers"][0]["id"]
    path = f"/cleanrooms/{room['id']}/partners/{partner['id']}/users/{user_id}/cleanRoomRoles"
    assert api.ok("PUT", f"{path}/{analyst['id']}")["role"]["name"] == "Analyst"
    assert api.call("PUT", f"{path}/{admin['id']}").status_code == 403
    assert api.call("DELETE", f"/cleanrooms/{room['id']}/invitations/{inv['id']}").status_code == 400

    declined = api.ok("POST", f"/cleanrooms/{room['id']}/partners", json={"partnerAdminEmail": "ops@other.example", "invitationNote": "hi"})
    assert api.control("POST", f"invitations/{declined['id']}/decline")["Status"] == "DECLINED"
    cancel = api.ok("POST", f"/cleanrooms/{room['id']}/partners", json={"partnerAdminEmail": "x@third.example"})
    assert api.ok("DELETE", f"/cleanrooms/{room['id']}/invitations", params={"partnerEmail": "x@third.example"})["id"] == cancel["id"]
    assert {i["Status"] for i in api.ok("GET", f"/cleanrooms/{room['id']}/invitations")} == {"ACCEPTED", "DECLINED"}

    assert api.ok("DELETE", f"/cleanrooms/{room['id']}/partners/{partner['id']}") == {"success": True}
    assert api.ok("GET", f"/cleanrooms/{room['id']}/partners") == []


def test_cleanroom_users_and_roles(api: Api) -> None:
    room = api.cleanroom()
    roles = api.ok("GET", f"/cleanrooms/{room['id']}/cleanRoomRoles")
    assert sorted(r["name"] for r in roles) == ["Administrator", "Analyst", "Viewer"]
    users = api.ok("GET", f"/cleanrooms/{room['id']}/users")
    assert [u["user"]["email"] for u in users] == ["api@demo-advertiser.example"]
    added = api.ok("POST", f"/cleanrooms/{room['id']}/users", json={"email": "analyst@demo-advertiser.example", "role": "Analyst"})
    assert added["role"]["name"] == "Analyst" and added["userAudit"]["createdBy"] == "api@demo-advertiser.example"
    dup = api.call("POST", f"/cleanrooms/{room['id']}/users", json={"email": "analyst@demo-advertiser.example", "role": "Viewer"})
    assert dup.status_code == 409
    assert api.call("POST", f"/cleanrooms/{room['id']}/users", json={"email": "nobody@demo-advertiser.example", "role": "Viewer"}).status_code == 404
    viewer = next(r for r in roles if r["name"] == "Viewer")
    assert api.ok("PUT", f"/cleanrooms/{room['id']}/users/{added['id']}/cleanRoomRoles/{viewer['id']}")["role"]["name"] == "Viewer"
    found = api.ok("GET", f"/cleanrooms/{room['id']}/users", params={"cleanroomUserEmail": "ANALYST@demo-advertiser.example"})
    assert [u["id"] for u in found] == [added["id"]]
    assert api.ok("DELETE", f"/cleanrooms/{room['id']}/users/{added['id']}") == {"success": True}
    assert api.call("GET", f"/cleanrooms/{room['id']}/users/{added['id']}").status_code == 404
    org_users = api.ok("GET", "/users", params={"limit": 2})
    assert len(org_users) == 2 and org_users[0]["user"]["email"] == "api@demo-advertiser.example"


def test_questions_versions_and_server_quirks(api: Api) -> None:
    qid = api.question()
    q = api.ok("GET", f"/question/{qid}")
    assert q["questionDetails"]["version"] == 1 and q["questionDetails"]["title"] == "Reach by region"
    body = {"questionDetails": {**q["questionDetails"], "description": "v2"}, "cleanRoomID": "", "settings": {}}
    updated = api.ok("PUT", f"/question/{qid}", json=body)
    assert updated["success"] is True and updated["question"]["version"] == 2
    assert api.ok("GET", f"/question/{qid}", params={"version": 1})["questionDetails"]["description"] == "Users by region"
    npe = api.call("PUT", f"/question/{qid}", json={"questionDetails": q["questionDetails"]})
    assert npe.status_code == 500 and "NullPointerException" in npe.json()["message"]
    details = {**q["questionDetails"], "dataTypes": [{"importDataType": "CRM", "macro": "crm"}]}
    assert api.call("POST", "/question", json={"questionDetails": details}).status_code == 500
    unused = {**q["questionDetails"], "queryDetails": [{"query": "SELECT 1", "cleanRoomType": "Hybrid"}]}
    assert api.call("POST", "/question", json={"questionDetails": unused, "settings": {"queryValidation": True}}).status_code == 400
    assert api.ok("DELETE", f"/question/{qid}") == {"success": True}
    assert api.call("GET", f"/question/{qid}").status_code == 404


def test_cleanroom_questions_assignment_permissions_and_readiness(api: Api) -> None:
    dc = api.connection()
    room = api.cleanroom()
    ds = api.ok("POST", f"/cleanrooms/{room['id']}/datasets/configure", params={"dataConnectionId": dc["id"]})
    qid = api.question()
    crq = api.ok("POST", f"/cleanrooms/{room['id']}/cleanroom-questions", params={"questionID": qid, "isEditable": "false"})
    assert crq["status"] == "DATASET_ASSIGNMENT_PENDING" and crq["isEditable"] is False
    assert api.call("POST", f"/cleanrooms/{room['id']}/cleanroom-questions", params={"questionId": qid}).status_code == 400
    assert api.ok("GET", f"/cleanrooms/{room['id']}/questions/{qid}") == {"id": crq["id"]}
    assert api.call("POST", f"/cleanroom-questions/{crq['id']}/create-run", json={"name": "too early"}).status_code == 412

    assignment = [{"datasetId": ds["id"], "macro": "crm", "fields": [{"name": "user_id", "value": "email_sha256"}]}]
    early = api.call("POST", f"/cleanroom-questions/{crq['id']}/datasets", json=assignment)
    assert early.status_code == 400 and "ownership" in early.json()["message"]
    owned = api.ok("POST", f"/cleanroom-questions/{crq['id']}/datasets-ownership", json=[{"organizationId": api.org_id(room["id"]), "macro": "crm"}])
    assert owned[0]["status"] == "OWNERSHIP_ASSIGNED" and owned[0]["ownership"] == "OWNER"
    bad_field = [{"datasetId": ds["id"], "macro": "crm", "fields": [{"name": "user_id", "value": "no_such_column"}]}]
    assert api.call("POST", f"/cleanroom-questions/{crq['id']}/datasets", json=bad_field).status_code == 400
    assigned = api.ok("POST", f"/cleanroom-questions/{crq['id']}/datasets", json=assignment)
    assert assigned[0]["status"] == "ASSIGNED" and assigned[0]["datasetId"] == ds["id"]
    one = api.ok("GET", f"/cleanroom-questions/{crq['id']}")
    assert one["status"] == "READY" and one["name"] == "Reach by region" and one["dataTypes"] == {"crm": "CRM"}

    perms = api.ok("GET", f"/cleanroom-questions/{crq['id']}/cleanroom-question-permissions")
    assert {p["access"] for p in perms} == {"QUESTION_OWNER_ONLY"}
    changed = api.ok(
        "POST", f"/cleanroom-questions/{crq['id']}/cleanroom-question-permissions", json=[{"permission": "VIEW_RESULTS", "access": "ALL_CLEAN_ROOM_PARTNERS"}]
    )
    assert next(p for p in changed if p["permission"] == "VIEW_RESULTS")["access"] == "ALL_CLEAN_ROOM_PARTNERS"
    assert api.call("POST", f"/cleanroom-questions/{crq['id']}/cleanroom-question-permissions", json=[{"permission": "FLY", "access": "X"}]).status_code == 400

    params = api.ok("GET", f"/cleanroom-questions/{crq['id']}/cleanroom-question-parameters")
    assert params["parameters"][0]["Name"] == "min_age" and params["parameters"][0]["DefaultValue"] == "18"
    assert api.ok("GET", f"/cleanroom-questions/{crq['id']}/cleanroom-question-tags") == ["reach"]
    options = api.ok("GET", f"/cleanroom-questions/{crq['id']}/data-type-options", params={"dataType": "crm"})
    assert options[0]["datasetOptions"] == [{"id": ds["id"], "name": "crm-upload"}]
    listed = api.ok("GET", f"/cleanrooms/{room['id']}/cleanroom-questions", params={"questionType": "Analytical", "startDate": "2000-01-01"})
    assert [c["id"] for c in listed] == [crq["id"]]
    assert api.ok("GET", f"/cleanrooms/{room['id']}/cleanroom-questions", params={"questionType": "List"}) == []
    assert api.ok("PATCH", f"/cleanroom-questions/{crq['id']}/compute-capacity", json={"computeCapacity": "LARGE"}) == {"success": True}
    assert api.ok("GET", f"/cleanrooms/{room['id']}")["questionsCount"] == 1
    assert api.ok("DELETE", f"/cleanroom-questions/{crq['id']}") == {"success": True}
    assert api.call("GET", f"/cleanroom-questions/{crq['id']}").status_code == 404


def test_run_schedules_take_a_list_and_answer_a_map(api: Api) -> None:
    crq = api.ready_crq()["crq"]
    base = f"/cleanroom-questions/{crq['id']}/cleanroom-question-run-schedules"
    body = {
        "name": "weekly reach",
        "startSchedule": "2025-01-06",
        "repeatFrequency": "WEEKLY",
        "daysOfWeek": ["MON"],
        "parameters": [
            {"name": "min_age", "value": "21", "dataType": "INTEGER", "parameterType": "RUN_PARAMETER"},
            {"name": "crm.date_start", "value": "7", "dataType": "DATE", "parameterType": "PARTITION_PARAMETER", "dateQualifier": "DAYS", "dateType": "RELATIVE"},
        ],
    }
    sid = api.ok("POST", base, json=body)["id"]
    schedule = api.ok("GET", f"{base}/{sid}")
    assert schedule["parameters"]["min_age"] == {"name": "min_age", "value": "21", "type": "INTEGER", "isStatic": True, "parameterType": "RUN_PARAMETER"}
    assert schedule["parameters"]["crm.date_start"]["qualifier"] == "DAYS" and schedule["parameters"]["crm.date_start"]["isStatic"] is False
    assert schedule["startDateTime"].startswith("2025-01-06T00:00:00") and schedule["active"] is True
    assert api.call("POST", base, json={**body, "daysOfWeek": []}).status_code == 400
    assert api.call("POST", base, json=body).status_code == 400  # name taken
    assert api.ok("PATCH", f"{base}/{sid}", json={"repeatFrequency": "MONTHLY", "repeatDayofMonth": [1, 15]}) == {"id": sid}
    patched = api.ok("GET", f"{base}/{sid}")
    assert patched["repeatFrequency"] == "MONTHLY" and patched["repeatDayofMonth"] == [1, 15] and patched["name"] == "weekly reach"
    assert [s["id"] for s in api.ok("GET", base)] == [sid]
    assert api.ok("DELETE", f"{base}/{sid}") == {"success": True}
    assert api.ok("GET", base) == []


def test_runs_progress_and_the_hourly_run_budget(api: Api) -> None:
    crq = api.ready_crq()["crq"]
    api.control("POST", "runs", json={"duration_seconds": 0})
    run = api.ok("POST", f"/cleanroom-questions/{crq['id']}/create-run", json={"name": "first", "parameters": {"min_age": 21}})
    assert run["status"] == "QUEUED" and run["parameters"] == {"min_age": "21"}
    done = api.ok("GET", f"/cleanroom-question-runs/{run['id']}")
    assert done["status"] == "COMPLETED" and done["completedAt"]
    data = api.ok("GET", f"/cleanroom-question-runs/{run['id']}/data")
    assert data["count"] == 5 and {m["fieldName"] for m in data["metadata"]} == {"region", "users"}
    assert api.ok("GET", f"/cleanroom-question-runs/{run['id']}/data/count") == 5
    again = api.ok("GET", f"/cleanroom-question-runs/{run['id']}/data")
    assert again["stats"] == data["stats"]  # deterministic

    api.control("POST", "runs", json={"duration_seconds": 3600})
    for i in range(19):
        api.ok("POST", f"/cleanroom-questions/{crq['id']}/create-run", json={"name": f"run {i}"})
    over = api.call("POST", f"/cleanroom-questions/{crq['id']}/create-run", json={"name": "21st"})
    assert over.status_code == 429 and "Retry-After" not in over.headers
    assert api.control("GET", "counters")["runs_created"] == {"demo-client": 20}

    listing = api.ok("GET", f"/cleanroom-questions/{crq['id']}/cleanroom-question-runs")
    assert len(listing) == 20  # the default page size (30) holds all of them
    assert len(api.ok("GET", f"/cleanroom-questions/{crq['id']}/cleanroom-question-runs", params={"limit": 500})) == 20
    assert len(api.ok("GET", f"/cleanroom-questions/{crq['id']}/cleanroom-question-runs", params={"limit": 5, "offset": 18})) == 2
    completed = api.ok("GET", f"/cleanroom-questions/{crq['id']}/cleanroom-question-runs", params={"questionRunStatus": "COMPLETED"})
    assert [r["id"] for r in completed] == [run["id"]]
    queued = api.ok("GET", f"/cleanroom-questions/{crq['id']}/cleanroom-question-runs", params={"status": "QUEUED"})
    assert len(queued) == 19
    failed = api.control("POST", f"runs/{queued[0]['id']}/fail")
    assert failed["status"] == "FAILED" and failed["failureReason"]
    assert api.call("GET", f"/cleanroom-question-runs/{queued[0]['id']}/data").status_code == 400
    latest = api.ok("GET", f"/cleanrooms/{crq['cleanRoomId']}/cleanroom-questions")
    assert latest[0]["status"] == "READY"
    api.control("POST", "clock", json={"advance_seconds": 3601})
    assert api.call("POST", f"/cleanroom-questions/{crq['id']}/create-run", json={"name": "next hour"}).status_code == 200


def test_out_of_band_edits_through_the_control_endpoint(api: Api) -> None:
    room = api.cleanroom()
    edited = api.control("POST", f"objects/cleanrooms/{room['id']}", json={"description": "changed behind your back"})
    assert edited["description"] == "changed behind your back"
    assert api.ok("GET", f"/cleanrooms/{room['id']}")["description"] == "changed behind your back"
    r = requests.post(f"{api.server.url}/_sandbox/liveramp/objects/cleanrooms/{room['id']}", json={"_org": "x"})
    assert r.status_code == 400
    assert requests.get(f"{api.server.url}/_sandbox/liveramp/objects/cleanrooms/nope").status_code == 404
    state = api.control("GET", "state")
    assert state["objects"]["cleanrooms"] == 1 and state["settings"]["token_limit"] == 2


def test_data_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.sqlite")
    server = SandboxServer(create_sandbox(path, names=["liveramp"])).start()
    try:
        room = Api(server).cleanroom("persistent")
    finally:
        server.stop()
        server.app.store.close()
    server = SandboxServer(create_sandbox(path, names=["liveramp"])).start()
    try:
        assert Api(server).ok("GET", f"/cleanrooms/{room['id']}")["name"] == "persistent"
    finally:
        server.stop()
        server.app.store.close()


def test_the_hook_checked_the_answers(api: Api, openapi_hook: OpenAPIChecker) -> None:
    before = sum(openapi_hook.checked.values())
    api.cleanroom()
    assert sum(openapi_hook.checked.values()) == before + 2  # the token and the create
    # and it rejects an answer that breaks the spec
    try:
        openapi_hook.check("GET", "http://h/liveramp/v1/cleanrooms", 200, [{"questionsCount": "many"}])
    except AssertionError as exc:
        assert "questionsCount" in str(exc)
    else:
        raise AssertionError("a non-integer questionsCount passed the OpenAPI check")


def test_assets_list_the_questions_created_in_or_added_to_a_room(api: Api, openapi_hook: OpenAPIChecker) -> None:
    """The API lists no questions; a room's assets show those created in it (``?cleanRoomID=``) or
    added to it as a clean-room question, with its datasets and stakeholders (answers spec-checked)."""
    dc = api.connection()
    room, other = api.cleanroom(), api.cleanroom("Other room")
    ds = api.ok("POST", f"/cleanrooms/{room['id']}/datasets/configure", params={"dataConnectionId": dc["id"]})
    free = api.question()  # in no room: listed nowhere
    q = api.ok("GET", f"/question/{free}")
    body = {"questionDetails": {**q["questionDetails"], "title": "Made in the room"}, "settings": {}}
    made_in = api.ok("POST", "/question", params={"cleanRoomID": room["id"]}, json=body)["questionID"]
    assert api.ok("GET", f"/question/{made_in}")["cleanRoomID"] == room["id"]
    key = "GET /cleanrooms/{cleanroomId}/assets 200"
    before = openapi_hook.checked[key]
    assets = api.ok("GET", f"/cleanrooms/{room['id']}/assets")
    assert [(x["ID"], x["title"]) for x in assets["questions"]] == [(made_in, "Made in the room")]
    assert [d["ID"] for d in assets["datasets"]] == [ds["id"]]
    assert {s["ownership"] for s in assets["stakeholders"]} == {"OWNER"}
    assert assets["computeCapacityOptions"] and assets["fieldTypes"]
    assert api.ok("GET", f"/cleanrooms/{other['id']}/assets")["questions"] == []
    api.ok("POST", f"/cleanrooms/{other['id']}/cleanroom-questions", params={"questionId": free})
    assert [x["ID"] for x in api.ok("GET", f"/cleanrooms/{other['id']}/assets")["questions"]] == [free]
    assert api.call("GET", "/cleanrooms/no-such-room/assets").status_code == 404
    assert openapi_hook.checked[key] == before + 3  # every 200 answer above validated against the vendor spec
