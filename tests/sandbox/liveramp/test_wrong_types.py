"""Wrongly typed request bodies, sent to every write operation of the LiveRamp emulator.

The oracle is the vendor's own OpenAPI file (``tests/vendor/``), read here independently of the
emulator's packaged shapes: for each write operation the emulator serves, a valid body is taken
and, one at a time, each property the spec types (at the top and one level down, and array
items) gets a value of another JSON type than the spec declares, an object or an array where a
string, enum, boolean or number belongs, a string where an object or array belongs; the whole
body, too, is replaced by the wrong kinds of JSON value (about 230 requests). Every such request must answer 400 in the
API's own JSON error shape (the OpenAPI hook checks it), never a 500 or an HTML page, and the
message must say it is the body's JSON that is wrong. Also: the packaged shapes
(``reconciler/sandbox/liveramp/request_bodies.json``) are what the vendor spec says, and every
write operation that takes a body has one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import pytest
import yaml

from reconciler.sandbox.base import SandboxServer
from reconciler.sandbox.liveramp.app import body_operations
from reconciler.sandbox.liveramp.bodies import BODIES_FILE, CORRECTIONS, extract, operation_key
from tests.sandbox.liveramp.fixtures import Api
from tests.vendor import LIVERAMP_OPENAPI, vendor_file

OBJECT = {"unexpected": {"nested": [1]}}
ARRAY = [["unexpected"]]
EMAIL = "analyst@demo-advertiser.example"


@cache
def spec() -> dict[str, Any]:
    with vendor_file(LIVERAMP_OPENAPI).open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def resolve(schema: Any, depth: int = 0) -> Any:
    """A (sub)schema with ``$ref`` followed (a few levels: enough for the mutations below)."""
    if not isinstance(schema, Mapping) or depth > 6:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return resolve(spec()["components"]["schemas"][ref.rsplit("/", 1)[-1]], depth + 1)
    return schema


def request_schema(key: str) -> Any:
    """The vendor's request schema of an operation (the two it documents as query parameters: as
    the emulator's corrections say, see ``reconciler.sandbox.liveramp.bodies``)."""
    if key in CORRECTIONS:
        return CORRECTIONS[key]
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            if isinstance(op, Mapping) and operation_key(method, path) == key:
                content = (op.get("requestBody") or {}).get("content", {})
                return resolve((content.get("application/json") or {}).get("schema"))
    return None


def kind_of(schema: Any) -> str | None:
    schema = resolve(schema)
    if "type" in schema:
        return str(schema["type"])
    return "object" if "properties" in schema else None


def wrong_values(schema: Any, name: str = "") -> list[Any]:
    """One value of another JSON type (two for the whole body): an object or an array (alternating
    by property name, so both are sent) where a scalar belongs, a string where a container does."""
    kind = kind_of(schema)
    if kind in ("string", "boolean", "integer", "number"):
        both = [OBJECT, ARRAY]
        return both if not name else [both[len(name) % 2]]
    if kind == "object":
        return ["not-an-object", ARRAY] if not name else ["not-an-object"]
    if kind == "array":
        return [OBJECT, "not-an-array"] if not name else ["not-an-array"]
    return []


def mutants(schema: Any, base: Any, where: str = "body", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(where, body) pairs: ``base`` with one value of the wrong JSON type."""
    schema = resolve(schema)
    kind = kind_of(schema)
    if depth == 0:
        for value in wrong_values(schema):
            yield where, value
    if kind == "object" and isinstance(base, dict) and depth < 2:
        for name, sub in sorted(schema.get("properties", {}).items()):
            for value in wrong_values(sub, name):
                yield f"{where}.{name}", {**base, name: value}
            if isinstance(base.get(name), (dict, list)):
                for inner_where, inner in mutants(sub, base[name], f"{where}.{name}", depth + 1):
                    yield inner_where, {**base, name: inner}
        extra = resolve(schema.get("additionalProperties"))
        if extra and isinstance(base, dict):
            for value in wrong_values(extra, "some_key"):
                yield f"{where}.<any key>", {**base, "some_key": value}
    if kind == "array" and isinstance(base, list) and base and depth < 2:
        items = schema.get("items")
        for value in wrong_values(items, "[0]"):
            yield f"{where}[0]", [value, *base[1:]]
        for inner_where, inner in mutants(items, base[0], f"{where}[0]", depth + 1):
            yield inner_where, [inner, *base[1:]]


def valid_bodies(ids: Mapping[str, str]) -> dict[str, tuple[str, str, dict[str, Any], Any]]:
    """operation key -> (method, path, query parameters, a valid body)."""
    room, crq, dc, ds, q, sch = ids["room"], ids["crq"], ids["dc"], ids["ds"], ids["question"], ids["schedule"]
    cleanroom = {"name": "Typed", "description": "d", "type": "Hybrid", "startAt": "2025-01-01", "endAt": "2099-01-01",
                 "parameters": {"REGION": "REGION_US", "CLOUD": "CLOUD_GCP", "SUB_REGION": "SUB_REGION_EAST1"}}
    connection = {"name": "typed", "category": "CRM", "credentialId": "c", "dataType": {"name": "CRM"},
                  "dataSource": {"name": "client-aws-s3"}, "dataSourceConfiguration": [{"name": "bucketPath", "value": "s3://x/"}]}
    question = {"questionDetails": {"title": "Typed", "category": "Reach", "description": "d", "tags": ["t"],
                                    "queryDetails": [{"query": "SELECT 1 FROM @crm", "cleanRoomType": "Hybrid", "queryLanguage": "SQL"}],
                                    "dataTypes": [{"importDataType": "CRM", "macro": "crm", "dataSetTypeFields": [{"name": "region", "type": "STRING"}]}],
                                    "parameters": [{"name": "p", "type": "STRING", "displayName": "P"}],
                                    "dimensions": [{"name": "region", "type": "STRING"}],
                                    "measures": [{"name": "users", "type": "LONG", "isIdentity": False, "noise": 1}]},
                "cleanRoomID": "", "settings": {"queryValidation": True}}
    schedule = {"name": "typed", "startSchedule": "2025-01-06", "repeatFrequency": "WEEKLY", "daysOfWeek": ["MON"],
                "repeatDayofMonth": [1], "endSchedule": "2099-01-01", "description": "d",
                "parameters": [{"name": "min_age", "value": "21", "dataType": "INTEGER", "parameterType": "RUN_PARAMETER"}]}
    return {
        "POST /cleanrooms": ("POST", "/cleanrooms", {}, cleanroom),
        "PUT /cleanrooms/{}": ("PUT", f"/cleanrooms/{room}", {}, cleanroom),
        "POST /cleanrooms/{}/users": ("POST", f"/cleanrooms/{room}/users", {}, {"email": EMAIL, "role": "Analyst", "userId": "u", "roleId": "r"}),
        "POST /cleanrooms/{}/partners": ("POST", f"/cleanrooms/{room}/partners", {}, {"partnerAdminEmail": "p@partner.example", "invitationNote": "hi"}),
        "POST /data-connections": ("POST", "/data-connections", {}, connection),
        "PUT /data-connections/{}": ("PUT", f"/data-connections/{dc}", {}, connection),
        "POST /data-connections/{}/field-configurations": (
            "POST", f"/data-connections/{dc}/field-configurations", {},
            [{"fieldName": "age", "fieldIndex": 1, "dataType": "INTEGER", "identifierType": "", "isPii": False, "isUserIdField": False,
              "isExcluded": False, "isPartitionColumn": False, "delimiter": "Comma", "partitionFieldConfig": {"type": "Fixed", "values": ["a"]}}],
        ),
        "POST /cleanrooms/{}/datasets/configure": ("POST", f"/cleanrooms/{room}/datasets/configure", {"dataConnectionId": dc}, {"rampIDConsent": False}),
        "POST /cleanrooms/{}/datasets/partner-assignment": (
            "POST", f"/cleanrooms/{room}/datasets/partner-assignment", {}, [{"datasetId": ds, "partnerCanAssign": True}]),
        "PUT /cleanrooms/{}/datasets/{}": (
            "PUT", f"/cleanrooms/{room}/datasets/{ds}", {},
            {"datasetFieldMappings": [{"fieldName": "age", "isExcluded": False, "rename": "years", "transformation": ""}],
             "datasetFilters": [{"datasetFieldName": "region", "operator": "IN", "values": ["EU"]}]},
        ),
        "POST /question": ("POST", "/question", {}, question),
        "PUT /question/{}": ("PUT", f"/question/{q}", {}, question),
        "PATCH /cleanroom-questions/{}/compute-capacity": (
            "PATCH", f"/cleanroom-questions/{crq}/compute-capacity", {}, {"computeCapacity": "LARGE"}),
        "POST /cleanroom-questions/{}/cleanroom-question-permissions": (
            "POST", f"/cleanroom-questions/{crq}/cleanroom-question-permissions", {}, [{"permission": "RUN", "access": "ALL_CLEAN_ROOM_PARTNERS"}]),
        "PUT /cleanroom-questions/{}/cleanroom-question-result-shares": (
            "PUT", f"/cleanroom-questions/{crq}/cleanroom-question-result-shares", {}, [{"PartnerID": "p", "PostRunQueryID": "q"}]),
        "POST /cleanroom-questions/{}/datasets-ownership": (
            "POST", f"/cleanroom-questions/{crq}/datasets-ownership", {}, [{"organizationId": ids["org"], "macro": "crm"}]),
        "POST /cleanroom-questions/{}/datasets": (
            "POST", f"/cleanroom-questions/{crq}/datasets", {},
            [{"datasetId": ds, "macro": "crm", "dataConnectionId": dc, "fields": [{"name": "user_id", "value": "email_sha256"}]}]),
        "POST /cleanroom-questions/{}/cleanroom-question-run-schedules": (
            "POST", f"/cleanroom-questions/{crq}/cleanroom-question-run-schedules", {}, schedule),
        "PATCH /cleanroom-questions/{}/cleanroom-question-run-schedules/{}": (
            "PATCH", f"/cleanroom-questions/{crq}/cleanroom-question-run-schedules/{sch}", {}, schedule),
        "POST /cleanroom-questions/{}/create-run": (
            "POST", f"/cleanroom-questions/{crq}/create-run", {}, {"name": "typed run", "parameters": {"min_age": "21"}}),
    }


def estate(api: Api) -> dict[str, str]:
    ready = api.ready_crq()
    crq = ready["crq"]["id"]
    schedule = api.ok("POST", f"/cleanroom-questions/{crq}/cleanroom-question-run-schedules",
                      json={"name": "s", "startSchedule": "2025-01-06", "repeatFrequency": "DAILY"})["id"]
    return {"room": ready["room"]["id"], "crq": crq, "dc": ready["connection"]["id"], "ds": ready["dataset"]["id"],
            "question": ready["question_id"], "schedule": schedule, "org": api.org_id(ready["room"]["id"])}


def test_the_packaged_shapes_are_the_vendor_specs() -> None:
    with BODIES_FILE.open(encoding="utf-8") as fh:
        packaged = json.load(fh)
    assert packaged == extract(spec(), body_operations())


def test_every_write_operation_with_a_body_is_covered(lr_server: SandboxServer) -> None:
    api = Api(lr_server)
    with BODIES_FILE.open(encoding="utf-8") as fh:
        packaged = set(json.load(fh))
    assert set(valid_bodies(estate(api))) == packaged
    assert packaged <= set(body_operations())


def test_wrongly_typed_values_are_400s_in_the_apis_shape(lr_server: SandboxServer) -> None:
    api = Api(lr_server)
    ids = estate(api)
    sent: dict[str, int] = {}
    failures: list[str] = []
    for key, (method, path, params, body) in sorted(valid_bodies(ids).items()):
        schema = request_schema(key)
        assert schema is not None, key
        for where, wrong in mutants(schema, body):
            answer = api.call(method, path, params=params, json=wrong)
            sent[key] = sent.get(key, 0) + 1
            text = answer.text
            if answer.status_code != 400 or not answer.headers.get("Content-Type", "").startswith("application/json"):
                failures.append(f"{key} {where}: {answer.status_code} {text[:160]}")
            elif "JSON parse error" not in answer.json()["message"]:
                failures.append(f"{key} {where}: {answer.json()['message']}")
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} in all)"
    assert len(sent) == len(valid_bodies(ids)) and min(sent.values()) >= 3, sent
    assert sum(sent.values()) > 200


@pytest.mark.parametrize("body", [{"computeCapacity": "LARGE"}, {"computeCapacity": "HUGE"}])
def test_right_types_still_reach_the_handler(lr_server: SandboxServer, body: dict[str, Any]) -> None:
    api = Api(lr_server)
    crq = estate(api)["crq"]
    answer = api.call("PATCH", f"/cleanroom-questions/{crq}/compute-capacity", json=body)
    if body["computeCapacity"] == "LARGE":
        assert answer.status_code == 200, answer.text
    else:  # a string of the right type but no member of the enum: the handler's own message
        assert answer.status_code == 400 and "JSON parse error" not in answer.json()["message"]
