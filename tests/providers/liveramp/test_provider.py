"""The ``liveramp`` provider against the LiveRamp emulator over real HTTP (every answer also passes
the vendor-OpenAPI response hook).

Aspects covered:
- kinds and schemas: eight kinds, Draft 2020-12 schemas with ``$id``/``title``, closed specs,
  id fields accepting refs; datasets not deletable and abandoned by default.
- the examples validate against the schemas and, created in order with refs resolved, read back
  equal to their normalised specs (what makes ``apply`` then ``plan`` empty), and are found again
  by natural key.
- create / read / update / delete of each kind; immutable fields refused in place; a dataset
  delete refused.
- normalisation: type name <-> id, string flags, dates, schedule list-in/map-out.
- fingerprints (no versions): an out-of-band PUT changes the fingerprint and a write guarded by
  the old one fails with PreconditionFailed; the new one succeeds.
- partners: ``invited`` until the control endpoint accepts, then ``accepted``; deleting an
  accepted partner removes the partner.
- batched reads: one list call per parent rather than one GET per object.
- errors name the call and the vendor's message, never the secret.
- a token request failing with 5xx fails every kind read at once after one round of retries.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.diff import project
from reconciler.errors import APIError, AuthError, ProviderError
from reconciler.model import OnDelete
from reconciler.providers.base import Precondition, PreconditionFailed, PreconditionKind
from reconciler.providers.liveramp.provider import LiveRampProvider
from reconciler.sandbox.base import SandboxServer
from tests.providers.liveramp.helpers import example_documents, make_provider, placeholders, resolve
from tests.sandbox.liveramp.fixtures import Api

KINDS = {
    "DataConnection", "Cleanroom", "CleanroomDataset", "CleanroomPartner", "CleanroomUser", "Question",
    "CleanroomQuestion", "QuestionRunSchedule",
}


@pytest.fixture
def provider(lr_server: SandboxServer, tmp_path: Path) -> Any:
    p = make_provider(lr_server, tmp_path / "cache")
    yield p
    p.close()


def _fp(provider: LiveRampProvider, kind: str, remote_id: str) -> Precondition:
    return provider.precondition_for(provider.read(kind, [remote_id])[remote_id])


def _subset(desired: dict[str, Any], live: dict[str, Any], write_only: frozenset[str]) -> dict[str, tuple[Any, Any]]:
    """The owned fields that differ (maps owned key by key, as the plan compares them)."""
    owned = {k: v for k, v in desired.items() if k not in write_only}
    projected = project(live, owned)
    return {k: (v, projected.get(k)) for k, v in owned.items() if projected.get(k) != v}


def test_kinds_and_schemas() -> None:
    assert set(LiveRampProvider.kinds) == KINDS
    for name, info in LiveRampProvider.kinds.items():
        schema = info.schema
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"liveramp/{name}.schema.json" and schema["title"] == f"liveramp.{name}"
        assert schema["$defs"]["spec"]["additionalProperties"] is False
        validator = Draft202012Validator(schema)
        assert list(validator.iter_errors({"no_such_field": 1}))
        for key in info.natural_key:
            assert key in schema["$defs"]["spec"]["properties"], (name, key)
    dataset = LiveRampProvider.kinds["CleanroomDataset"]
    assert dataset.deletable is False and dataset.default_on_delete is OnDelete.ABANDON
    assert LiveRampProvider.kinds["Cleanroom"].default_on_delete is OnDelete.ABANDON
    assert LiveRampProvider.kinds["Cleanroom"].immutable_fields == frozenset({"type"})
    id_schema = {"$defs": LiveRampProvider.kinds["CleanroomDataset"].schema["$defs"], "$ref": "#/$defs/id"}
    for ok in ("abc", 12, {"ref": "Cleanroom/x"}, {"ref": "liveramp.Cleanroom/x"}):
        assert Draft202012Validator(id_schema).is_valid(ok), ok
    assert not Draft202012Validator(id_schema).is_valid({"ref": "not a ref"})


def test_examples_validate_against_their_schemas() -> None:
    docs = example_documents()
    assert [d["kind"] for d in docs] == [
        "DataConnection", "Cleanroom", "CleanroomDataset", "CleanroomPartner", "Question", "CleanroomQuestion", "QuestionRunSchedule", "CleanroomUser",
    ]
    for doc in docs:
        schema = LiveRampProvider.kinds[doc["kind"]].schema
        whole = {k: v for k, v in doc.items() if k != "_file"}
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(whole)]
        assert not errors, (doc["_file"], errors)
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(placeholders(doc["spec"]))]
        assert not errors, (doc["_file"], errors)
    bad = {**docs[1]["spec"], "type": "Oracle"}
    messages = [e.message for e in Draft202012Validator(LiveRampProvider.kinds["Cleanroom"].schema).iter_errors(bad)]
    assert any("Oracle" in m for m in messages)


def test_examples_apply_then_read_back_equal(provider: LiveRampProvider, lr_server: SandboxServer) -> None:
    ids: dict[str, str] = {}
    created = []
    for doc in example_documents():
        kind = doc["kind"]
        spec = resolve(doc["spec"], ids)
        live = provider.create(kind, spec)
        ids[f"{kind}/{doc['metadata']['name']}"] = live.remote_id
        created.append((kind, spec, live))
    for kind, spec, live in created:
        info = provider.kinds[kind]
        again = provider.read(kind, [live.remote_id])[live.remote_id]
        assert again.version is None
        desired = provider.normalize(kind, spec)
        assert _subset(desired, dict(again.fields), info.write_only_fields) == {}, kind
        assert again.fingerprint == live.fingerprint, kind
        found = provider.find_by_natural_key(kind, spec)
        assert found is not None and found.remote_id == live.remote_id, kind
    by_kind = {kind: live for kind, _, live in created}
    assert by_kind["CleanroomPartner"].status == "invited"
    assert by_kind["CleanroomQuestion"].status is None  # READY: every macro has a dataset
    room = ids["Cleanroom/retail-insights"]
    children = provider.list_children("CleanroomDataset", room)
    assert [c.remote_id for c in children] == [ids["CleanroomDataset/crm-in-retail"]]
    users = provider.list_children("CleanroomUser", room)
    assert sorted(u.fields["email"] for u in users) == ["analyst@demo-advertiser.example", "api@demo-advertiser.example"]
    assert [q.fields["title"] for q in provider.list_children("Question", None)] == ["Reach by region"]


def test_create_read_update_delete_each_kind(provider: LiveRampProvider, api: Api) -> None:
    dc = provider.create(
        "DataConnection",
        {"name": "events", "data_type": "Transaction", "data_source": "google-cloud-storage", "configuration": {"path": "gs://b/x", "header": True},
         "fields": [{"name": "uid", "type": "STRING", "identifier_type": "RampID", "user_id": True}, {"name": "amount", "type": "DOUBLE"}]},
    )
    assert dc.fields["configuration"] == {"header": "true", "path": "gs://b/x"}
    assert dc.fields["fields"] == [{"name": "uid", "type": "STRING", "identifier_type": "RampID", "user_id": True}, {"name": "amount", "type": "DOUBLE"}]
    dc2 = provider.update("DataConnection", dc.remote_id, {"category": "Sales", "fields": [*dc.fields["fields"], {"name": "ts", "type": "TIMESTAMP"}]}, provider.precondition_for(dc))
    assert dc2.fields["category"] == "Sales" and [f["name"] for f in dc2.fields["fields"]] == ["uid", "amount", "ts"]
    with pytest.raises(ProviderError, match="data_source"):
        provider.update("DataConnection", dc.remote_id, {"data_source": "snowflake"}, provider.precondition_for(dc2))

    room = provider.create(
        "Cleanroom",
        {"name": "Room A", "type": "Snowflake", "start_at": "2025-03-01", "parameters": {"REGION": "REGION_EU", "CLOUD": "CLOUD_AWS", "ENABLE_PAIR": True}},
    )
    assert room.fields == {
        "name": "Room A", "description": "", "type": "Snowflake", "start_at": "2025-03-01",
        "parameters": {"CLOUD": "CLOUD_AWS", "ENABLE_PAIR": "true", "REGION": "REGION_EU"},
    }
    room2 = provider.update("Cleanroom", room.remote_id, {"description": "EU room", "end_at": "2099-01-31"}, provider.precondition_for(room))
    assert room2.fields["description"] == "EU room" and room2.fields["end_at"] == "2099-01-31" and room2.fields["parameters"]["ENABLE_PAIR"] == "true"
    with pytest.raises(ProviderError, match="type"):
        provider.update("Cleanroom", room.remote_id, {"type": "Hybrid"}, provider.precondition_for(room2))
    room3 = provider.update("Cleanroom", room.remote_id, {"end_at": None}, provider.precondition_for(room2))
    assert "end_at" not in room3.fields and room3.fields["description"] == "EU room"

    ds = provider.create("CleanroomDataset", {"cleanroom_id": room.remote_id, "data_connection_id": dc.remote_id, "ramp_id_consent": True})
    assert ds.fields["field_mappings"] == [] and ds.fields["partner_can_assign"] is False
    ds2 = provider.update(
        "CleanroomDataset", ds.remote_id,
        {"field_mappings": [{"field": "amount", "rename": "value"}], "filters": [{"field": "uid", "operator": "NOT_EQUALS", "values": ["x"]}], "partner_can_assign": True},
        provider.precondition_for(ds),
    )
    assert ds2.fields["field_mappings"] == [{"field": "amount", "excluded": False, "rename": "value"}]
    assert ds2.fields["filters"] == [{"field": "uid", "operator": "NOT_EQUALS", "values": ["x"]}] and ds2.fields["partner_can_assign"] is True
    with pytest.raises(ProviderError, match="cannot be deleted"):
        provider.delete("CleanroomDataset", ds.remote_id, provider.precondition_for(ds2))

    user = provider.create("CleanroomUser", {"cleanroom_id": room.remote_id, "email": "Viewer@demo-advertiser.example", "role": "Viewer"})
    assert user.fields == {"cleanroom_id": room.remote_id, "email": "viewer@demo-advertiser.example", "role": "Viewer"}
    assert provider.update("CleanroomUser", user.remote_id, {"role": "Analyst"}, provider.precondition_for(user)).fields["role"] == "Analyst"
    with pytest.raises(ProviderError, match="no role 'Boss'"):
        provider.update("CleanroomUser", user.remote_id, {"role": "Boss"}, _fp(provider, "CleanroomUser", user.remote_id))

    question = provider.create(
        "Question",
        {"title": "Spend", "queries": [{"cleanroom_type": "Snowflake", "query": "SELECT SUM(@tx.amount) FROM @tx"}],
         "data_types": [{"macro": "tx", "import_data_type": "Transaction", "fields": [{"name": "user_id", "type": "STRING"}]}],
         "measures": [{"name": "spend", "type": "DOUBLE", "is_identity": False}]},
    )
    assert question.fields["queries"] == [{"cleanroom_type": "Snowflake", "query": "SELECT SUM(@tx.amount) FROM @tx", "language": "SQL"}]
    assert question.fields["measures"] == [{"name": "spend", "type": "DOUBLE"}]
    q2 = provider.update("Question", question.remote_id, {"description": "total spend", "tags": ["spend"]}, provider.precondition_for(question))
    assert q2.fields["description"] == "total spend" and q2.fields["tags"] == ["spend"]
    assert api.ok("GET", f"/question/{question.remote_id}")["questionDetails"]["version"] == 2

    crq = provider.create(
        "CleanroomQuestion",
        {"cleanroom_id": room.remote_id, "question_id": question.remote_id, "editable": False,
         "assignments": [{"macro": "tx", "dataset_id": ds.remote_id, "fields": {"user_id": "uid"}}]},
    )
    assert crq.status is None and crq.fields["assignments"] == [{"macro": "tx", "dataset_id": ds.remote_id, "fields": {"user_id": "uid"}}]
    owner_only = dict.fromkeys(["CLONE", "DELETE", "EDIT", "RUN", "VIEW_CODE", "VIEW_RESULTS"], "QUESTION_OWNER_ONLY")
    assert crq.fields["permissions"] == owner_only  # every permission, defaults included
    crq2 = provider.update("CleanroomQuestion", crq.remote_id, {"permissions": {"RUN": "ALL_CLEAN_ROOM_PARTNERS", "EDIT": "QUESTION_OWNER_ONLY"}}, provider.precondition_for(crq))
    assert crq2.fields["permissions"] == {**owner_only, "RUN": "ALL_CLEAN_ROOM_PARTNERS"}
    crq3 = provider.update("CleanroomQuestion", crq.remote_id, {"permissions": {}}, provider.precondition_for(crq2))
    assert crq3.fields["permissions"] == owner_only
    with pytest.raises(ProviderError, match="cannot unassign"):
        provider.update("CleanroomQuestion", crq.remote_id, {"assignments": []}, provider.precondition_for(crq3))

    sched = provider.create(
        "QuestionRunSchedule",
        {"cleanroom_question_id": crq.remote_id, "name": "daily", "frequency": "DAILY", "start": "2025-04-01",
         "parameters": {"lookback": {"value": 7, "data_type": "INTEGER", "parameter_type": "PARTITION_PARAMETER", "date_qualifier": "DAYS", "date_type": "RELATIVE"}, "min": "5"}},
    )
    assert sched.fields["start"] == "2025-04-01T00:00:00Z"
    assert sched.fields["parameters"] == {
        "lookback": {"value": "7", "data_type": "INTEGER", "parameter_type": "PARTITION_PARAMETER", "date_qualifier": "DAYS", "date_type": "RELATIVE"},
        "min": {"value": "5", "data_type": "STRING", "parameter_type": "RUN_PARAMETER"},
    }
    raw = api.ok("GET", f"/cleanroom-questions/{crq.remote_id}/cleanroom-question-run-schedules")[0]
    assert isinstance(raw["parameters"], dict) and raw["parameters"]["lookback"]["isStatic"] is False
    s2 = provider.update("QuestionRunSchedule", sched.remote_id, {"frequency": "MONTHLY", "days_of_month": [15, 1], "end": "2025-12-31T00:00:00+00:00"}, provider.precondition_for(sched))
    assert s2.fields["frequency"] == "MONTHLY" and s2.fields["days_of_month"] == [1, 15] and s2.fields["end"] == "2025-12-31T00:00:00Z"
    assert s2.fields["parameters"] == sched.fields["parameters"]

    partner = provider.create("CleanroomPartner", {"cleanroom_id": room.remote_id, "partner_admin_email": "ops@agency.example"})
    assert partner.status == "invited"

    for kind, live in (("QuestionRunSchedule", s2), ("CleanroomQuestion", crq3), ("CleanroomUser", user), ("CleanroomPartner", partner), ("Question", q2)):
        provider.delete(kind, live.remote_id, _fp(provider, kind, live.remote_id))
        assert provider.read(kind, [live.remote_id]) == {}, kind
    provider.delete("Cleanroom", room.remote_id, _fp(provider, "Cleanroom", room.remote_id))
    assert provider.read("Cleanroom", [room.remote_id]) == {}
    assert provider.read("CleanroomDataset", [ds.remote_id]) == {}
    provider.delete("DataConnection", dc.remote_id, _fp(provider, "DataConnection", dc.remote_id))
    assert provider.read("DataConnection", [dc.remote_id]) == {}


def test_normalize_handles_api_quirks(provider: LiveRampProvider) -> None:
    import datetime as dt

    room = provider.normalize("Cleanroom", {"start_at": dt.date(2025, 1, 2), "end_at": None, "parameters": {"ENABLE_EXPORT": False, "CROWD_SIZE": 50}})
    assert room == {"start_at": "2025-01-02", "parameters": {"CROWD_SIZE": "50", "ENABLE_EXPORT": "false"}}
    sched = provider.normalize("QuestionRunSchedule", {"start": "2025-01-06T07:00:00+01:00", "days_of_week": ["FRI", "MON"], "parameters": {"x": 3, "d": {"value": "2025-01-01", "date_qualifier": "DAYS"}}})
    assert sched["start"] == "2025-01-06T06:00:00Z" and sched["days_of_week"] == ["MON", "FRI"]
    assert sched["parameters"]["x"] == {"value": "3", "data_type": "STRING", "parameter_type": "RUN_PARAMETER"}
    assert sched["parameters"]["d"]["date_type"] == "ABSOLUTE"
    partner = provider.normalize("CleanroomPartner", {"cleanroom_id": 5, "partner_admin_email": "A@B.example"})
    assert partner == {"cleanroom_id": "5", "partner_admin_email": "a@b.example"}
    q = provider.normalize("Question", {"queries": [{"cleanroom_type": "Hybrid", "query": "q"}], "data_types": [{"import_data_type": "CRM", "fields": []}]})
    assert q["queries"][0]["language"] == "SQL" and q["data_types"] == [{"import_data_type": "CRM", "macro": "CRM"}]


def test_out_of_band_put_changes_the_fingerprint(provider: LiveRampProvider, api: Api) -> None:
    room = provider.create("Cleanroom", {"name": "Guarded", "type": "Hybrid", "start_at": "2025-01-01", "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP"}})
    planned = provider.precondition_for(room)
    assert planned.kind is PreconditionKind.FINGERPRINT and planned.value == room.fingerprint
    api.ok("PUT", f"/cleanrooms/{room.remote_id}", json={"name": "Guarded", "description": "edited by hand", "type": "Hybrid", "startAt": "2025-01-01", "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP"}})
    now = provider.read("Cleanroom", [room.remote_id])[room.remote_id]
    assert now.fingerprint != room.fingerprint and now.fields["description"] == "edited by hand"
    with pytest.raises(PreconditionFailed) as stale:
        provider.update("Cleanroom", room.remote_id, {"parameters": {"REGION": "REGION_EU", "CLOUD": "CLOUD_GCP"}}, planned)
    assert stale.value.current is not None and stale.value.current.fields["description"] == "edited by hand"
    assert api.ok("GET", f"/cleanrooms/{room.remote_id}")["cleanRoomParameters"]["REGION"] == "REGION_US"  # nothing written
    done = provider.update("Cleanroom", room.remote_id, {"parameters": {"REGION": "REGION_EU", "CLOUD": "CLOUD_GCP"}}, provider.precondition_for(now))
    assert done.fields["parameters"]["REGION"] == "REGION_EU" and done.fields["description"] == "edited by hand"  # PUT kept the unmanaged field
    with pytest.raises(PreconditionFailed):
        provider.delete("Cleanroom", room.remote_id, planned)


def test_partner_is_invited_until_accepted(provider: LiveRampProvider, api: Api) -> None:
    room = provider.create("Cleanroom", {"name": "Partnered", "type": "Hybrid", "start_at": "2025-01-01", "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP"}})
    partner = provider.create("CleanroomPartner", {"cleanroom_id": room.remote_id, "partner_admin_email": "admin@media.example", "invitation_note": "hello"})
    assert partner.status == "invited" and partner.fields["invitation_note"] == "hello"
    invitation = partner.remote_id.split(":", 1)[1]
    api.control("POST", f"invitations/{invitation}/accept", json={"organizationName": "Media Co"})
    accepted = provider.read("CleanroomPartner", [partner.remote_id])[partner.remote_id]
    assert accepted.status == "accepted" and accepted.fields == partner.fields
    assert api.ok("GET", f"/cleanrooms/{room.remote_id}/partners")[0]["name"] == "Media Co"
    provider.delete("CleanroomPartner", partner.remote_id, provider.precondition_for(accepted))
    assert api.ok("GET", f"/cleanrooms/{room.remote_id}/partners") == []
    assert provider.read("CleanroomPartner", [partner.remote_id]) == {}
    declined = provider.create("CleanroomPartner", {"cleanroom_id": room.remote_id, "partner_admin_email": "no@thanks.example"})
    api.control("POST", f"invitations/{declined.remote_id.split(':', 1)[1]}/decline")
    assert provider.read("CleanroomPartner", [declined.remote_id])[declined.remote_id].status == "declined"


def _gets(server: SandboxServer, endpoint: str) -> int:
    """GET requests the sandbox counted for exactly this route."""
    return server.app.counters[f"liveramp GET {endpoint}"]


def test_reads_are_batched_per_parent(provider: LiveRampProvider, api: Api, lr_server: SandboxServer) -> None:
    rooms = [api.cleanroom(f"batch {i}") for i in range(4)]
    dc = api.connection()
    datasets = [api.ok("POST", f"/cleanrooms/{r['id']}/datasets/configure", params={"dataConnectionId": dc["id"]}) for r in rooms]
    lr_server.app.counters.clear()
    got = provider.read("Cleanroom", [r["id"] for r in rooms] + ["missing-id"])
    assert set(got) == {r["id"] for r in rooms}
    assert _gets(lr_server, "op_cleanrooms") == 1 and _gets(lr_server, "op_cleanroom") == 0
    lr_server.app.counters.clear()
    got = provider.read("CleanroomDataset", [d["id"] for d in datasets])
    assert len(got) == 4
    assert _gets(lr_server, "op_cleanrooms") == 1
    assert _gets(lr_server, "op_datasets") == 4 and _gets(lr_server, "op_dataset") == 0


def test_workspace_settings_are_checked(lr_server: SandboxServer, tmp_path: Path) -> None:
    from reconciler.errors import WorkspaceError
    from reconciler.providers.base import ProviderConfig

    with pytest.raises(WorkspaceError, match="client_secret missing"):
        LiveRampProvider(ProviderConfig("liveramp", "https://api.habu.com", {"client_id": "x"}))
    with pytest.raises(WorkspaceError, match="endpoint"):
        LiveRampProvider(ProviderConfig("liveramp", "sandbox", {"client_id": "x", "client_secret": "y"}))
    assert LiveRampProvider(ProviderConfig("liveramp", "production", {"client_id": "x", "client_secret": "y"}, {"token_cache_dir": str(tmp_path)})).client.endpoint == "https://api.habu.com"
    with_v1 = LiveRampProvider(
        ProviderConfig("liveramp", f"{lr_server.url}/liveramp/v1/", {"client_id": "demo-client", "client_secret": "demo-secret"}, {"token_cache_dir": str(tmp_path)})
    )
    assert with_v1.list_children("Cleanroom", None) == []
    with pytest.raises(ProviderError, match="no kind 'Campaign'"):
        with_v1.read("Campaign", ["1"])


def test_errors_name_the_call_and_never_the_secret(lr_server: SandboxServer, tmp_path: Path) -> None:
    secret = "s3cr3t-value-never-shown"
    bad = make_provider(lr_server, tmp_path / "cache", secret=secret)
    assert secret not in repr(bad) and secret not in repr(bad.config) and secret not in repr(bad.client)
    with pytest.raises(AuthError) as failed:
        bad.read("Cleanroom", ["x"])
    assert "POST" in str(failed.value) and "/v1/oauth/token" in str(failed.value) and "401" in str(failed.value)
    assert secret not in str(failed.value)
    good = make_provider(lr_server, tmp_path / "cache2")
    with pytest.raises(APIError) as conflict:
        for _ in range(2):
            good.create("Cleanroom", {"name": "Same", "type": "Hybrid", "start_at": "2025-01-01", "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP"}})
    assert conflict.value.status == 409 and "already exists" in str(conflict.value) and "/v1/cleanrooms" in str(conflict.value)
    cache_text = "".join(p.read_text() for p in (tmp_path / "cache2").glob("*.json"))
    assert secret not in cache_text and "demo-secret" not in cache_text


def test_reads_waiting_on_a_failed_token_request_fail_with_it(lr_server: SandboxServer, tmp_path: Path) -> None:
    """The token endpoint answers 5xx: the kinds read at once wait for the one token request, and
    its failure (after its retries) is theirs too; no kind starts its own round of retries."""
    import requests

    from reconciler.providers.http import RetryPolicy

    provider = make_provider(lr_server, tmp_path / "cache")
    provider.client.http.retry = RetryPolicy(attempts=3, base_delay=0.01)
    control = requests.Session()
    control.delete(f"{lr_server.url}/_sandbox/counters", timeout=10)
    faults = {"fault_rate": 1.0, "seed": 1, "weights": {"429": 0, "5xx": 1}, "latency_ms": 100}
    assert control.post(f"{lr_server.url}/_sandbox/faults", json=faults, timeout=10).status_code == 200
    try:
        kinds = ["DataConnection", "Cleanroom", "Question", "CleanroomDataset"]
        with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
            errors = [f.exception() for f in [pool.submit(provider.read, kind, ["x"]) for kind in kinds]]
    finally:
        control.post(f"{lr_server.url}/_sandbox/faults", json={}, timeout=10)
        provider.close()
    assert all(isinstance(e, APIError) and e.status is not None and e.status >= 500 for e in errors), errors
    routes = control.get(f"{lr_server.url}/_sandbox/counters", timeout=10).json()["routes"]
    assert routes.get("liveramp POST op_token") == 3, routes  # one request's three attempts, not one per kind
