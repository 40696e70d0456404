"""Strategy targeting in the MediaMath v2.0 emulator, over real HTTP.

Aspects covered:

- ``GET /strategies/{id}/target_dimensions/{n}``: two empty lists for a dimension never written;
  the XML shape of the reference (``<enabled active>``, ``<include>``/``<exclude>`` holding
  ``<entities target_op="OR">`` of ``target_value`` entities with value/code/is_targetable/
  target_dimension_id/name props) and the JSON shape;
- ``POST`` with repeated ``include=``/``exclude=`` ids replaces both lists (a list not sent is
  emptied, an empty POST clears), takes no version (one sent is ignored), leaves the strategy's
  version alone, accepts a JSON body too;
- validation in the API's own shapes (400 ``invalid`` + ``field-error`` in XML and JSON): ids that
  are not integers, unknown ids, values of another dimension, values that are not targetable, one
  value both included and excluded, unknown form fields; 404 for an unknown dimension or strategy,
  403 ``denied`` for another organisation's strategy (reads and writes);
- the strategy's ``/history`` names who changed which dimension (``target_dimensions.7.include``,
  old and new ids), as ``jdoe`` too; a POST that changes nothing adds no entry;
- the lookups: ``/target_values/limit/target_dimension=7`` with ``q=code==(...)``, ``/target_values/{id}``,
  ``/target_dimensions``; ``sandbox info`` describes the seeded values.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from defusedxml import ElementTree as SafeET

from reconciler.sandbox.base import SandboxServer
from reconciler.sandbox.mediamath.targeting import TARGET_VALUES
from tests.sandbox.mediamath.mmclient import MM, entity_dict

REGION, COUNTRY, DEVICE = 7, 14, 24
US_CA, US_NY, US_TX, COUNTRY_US, SMARTPHONE, UNKNOWN_DEVICE = 70001, 70002, 70003, 140001, 240002, 240005
OTHER_ORG_STRATEGY_AGENCY = 104000


def field_errors(r: requests.Response) -> dict[str, str]:
    root = SafeET.fromstring(r.content)
    return {e.get("name"): e.get("error") for e in root.iter("field-error")}


def dimension(mm: MM, sid: str, dim: int) -> dict[str, list[str]]:
    r = mm.get(f"/strategies/{sid}/target_dimensions/{dim}")
    assert r.status_code == 200, r.text
    root = SafeET.fromstring(r.content)
    return {tag: [e.get("code") or "" for e in (entity_dict(x) for x in root.iterfind(f"{tag}/entities/entity"))]
            for tag in ("include", "exclude")}


def history(mm: MM, sid: str) -> list[dict[str, Any]]:
    root = mm.xml(f"/strategies/{sid}/history")
    return [
        {**e.attrib, "fields": {f.get("name"): (f.get("old_value"), f.get("new_value")) for f in e.iterfind("field")}}
        for e in root.iterfind("log_entries/entry")
    ]


def test_a_dimension_never_written_is_two_empty_lists(mm: MM) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    r = mm.get(f"/strategies/{sid}/target_dimensions/{REGION}")
    assert r.status_code == 200 and "xml" in r.headers["Content-Type"]
    root = SafeET.fromstring(r.content)
    assert root.find("enabled").get("active") == "0"
    assert root.find("include/entities").get("target_op") == "OR"
    assert list(root.find("include/entities")) == [] and list(root.find("exclude/entities")) == []
    assert root.find("status").get("code") == "ok"


def test_post_replaces_both_lists_and_get_answers_them(mm: MM) -> None:
    strategy = mm.hierarchy()["strategy"]
    sid = strategy["id"]
    r = mm.post(f"/strategies/{sid}/target_dimensions/{REGION}", {"include": [US_NY, US_CA, US_CA], "exclude": []})
    assert r.status_code == 200, r.text
    root = SafeET.fromstring(r.content)
    assert root.find("enabled").get("active") == "1"
    entity = root.find("include/entities/entity")
    assert entity.attrib == {"name": "California", "id": str(US_CA), "type": "target_value"}
    assert entity_dict(entity) == {"name": "California", "id": str(US_CA), "type": "target_value", "value": "6",
                                   "code": "US-CA", "is_targetable": "1", "target_dimension_id": "7"}
    assert dimension(mm, sid, REGION) == {"include": ["US-CA", "US-NY"], "exclude": []}
    # a list not sent is emptied; exclude works the same way
    r = mm.post(f"/strategies/{sid}/target_dimensions/{REGION}", {"exclude": [US_TX]})
    assert r.status_code == 200, r.text
    assert dimension(mm, sid, REGION) == {"include": [], "exclude": ["US-TX"]}
    # dimensions are independent; an empty POST clears one
    mm.post(f"/strategies/{sid}/target_dimensions/{DEVICE}", {"include": [SMARTPHONE]})
    assert mm.post(f"/strategies/{sid}/target_dimensions/{REGION}", {}).status_code == 200
    assert dimension(mm, sid, REGION) == {"include": [], "exclude": []}
    assert dimension(mm, sid, DEVICE) == {"include": ["SMARTPHONE"], "exclude": []}


def test_no_version_is_needed_and_the_strategy_version_stays(mm: MM) -> None:
    strategy = mm.hierarchy()["strategy"]
    sid = strategy["id"]
    r = mm.post(f"/strategies/{sid}/target_dimensions/{REGION}", {"include": [US_CA], "version": 99})
    assert r.status_code == 200, r.text
    after = entity_dict(mm.xml(f"/strategies/{sid}").find("entity"))
    assert after["version"] == strategy["version"] == "0"


def test_json_shapes(sandbox: SandboxServer) -> None:
    mm = MM(sandbox, json=True)
    mm.login()
    xml = MM(sandbox)
    xml.login()
    sid = xml.hierarchy()["strategy"]["id"]
    r = mm.http.post(f"{mm.base}/strategies/{sid}/target_dimensions/{REGION}",
                     json={"include": [US_CA], "exclude": [str(US_TX)]})
    assert r.status_code == 200, r.text
    assert "json" in r.headers["Content-Type"]
    body = r.json()
    assert body["meta"]["status"] == "ok"
    assert body["data"]["enabled"] == {"active": True}
    assert body["data"]["include"] == [{"entity_type": "target_value", "id": US_CA, "name": "California", "value": 6,
                                        "code": "US-CA", "is_targetable": True, "target_dimension_id": 7}]
    assert [v["code"] for v in body["data"]["exclude"]] == ["US-TX"]
    bad = mm.http.post(f"{mm.base}/strategies/{sid}/target_dimensions/{REGION}", json={"include": [COUNTRY_US]})
    assert bad.status_code == 400
    assert bad.json()["meta"]["status"] == "invalid"
    assert bad.json()["errors"][0]["type"] == "field-error" and bad.json()["errors"][0]["field"] == "include"


def test_validation_errors_name_the_list_and_the_value(mm: MM) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    path = f"/strategies/{sid}/target_dimensions/{REGION}"
    r = mm.post(path, {"include": ["abc"]})
    assert r.status_code == 400
    root = SafeET.fromstring(r.content)
    assert root.find("status").get("code") == "invalid"
    assert field_errors(r) == {"include": "'abc' is not a target value id"}
    assert field_errors(mm.post(path, {"include": [999]})) == {"include": "target value 999 does not exist"}
    assert field_errors(mm.post(path, {"exclude": [COUNTRY_US]})) == {
        "exclude": f"target value {COUNTRY_US} (US) belongs to target dimension 14, not 7"}
    device = f"/strategies/{sid}/target_dimensions/{DEVICE}"
    assert field_errors(mm.post(device, {"include": [UNKNOWN_DEVICE]})) == {
        "include": f"target value {UNKNOWN_DEVICE} (UNKNOWN) is not targetable"}
    assert field_errors(mm.post(path, {"include": [US_CA], "exclude": [US_CA]})) == {
        "exclude": f"target value {US_CA} is also included"}
    assert field_errors(mm.post(path, {"include": [US_CA], "target_op": "AND"})) == {
        "target_op": "is not a field of target_dimension"}
    # nothing of a refused write was kept
    assert dimension(mm, sid, REGION) == {"include": [], "exclude": []}


def test_unknown_dimension_strategy_and_other_organisation(mm: MM, sandbox: SandboxServer) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    r = mm.get(f"/strategies/{sid}/target_dimensions/99")
    assert r.status_code == 404 and SafeET.fromstring(r.content).find("status").get("code") == "not_found"
    assert mm.post(f"/strategies/{sid}/target_dimensions/99", {"include": [US_CA]}).status_code == 404
    assert mm.get(f"/strategies/999999/target_dimensions/{REGION}").status_code == 404
    outsider = MM(sandbox)
    outsider.login("outsider", "outsider-password")
    for r in (outsider.get(f"/strategies/{sid}/target_dimensions/{REGION}"),
              outsider.post(f"/strategies/{sid}/target_dimensions/{REGION}", {"include": [US_CA]})):
        assert r.status_code == 403
        assert SafeET.fromstring(r.content).find("status").get("code") == "denied"
    assert dimension(mm, sid, REGION) == {"include": [], "exclude": []}


def test_history_names_who_changed_which_dimension(mm: MM, sandbox: SandboxServer) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    path = f"/strategies/{sid}/target_dimensions/{REGION}"
    mm.post(path, {"include": [US_CA, US_NY]})
    mm.post(path, {"include": [US_CA, US_NY]})  # no change: no entry
    jdoe = MM(sandbox)
    jdoe.login("jdoe", "jdoe-password")
    assert jdoe.post(path, {"include": [US_CA], "exclude": [US_TX]}).status_code == 200
    entries = history(mm, sid)  # newest first
    assert [(e["action"], e["user_name"]) for e in entries] == [("update", "jdoe"), ("update", "demo"), ("add", "demo")]
    assert entries[0]["fields"] == {
        "target_dimensions.7.include": (f"{US_CA},{US_NY}", str(US_CA)),
        "target_dimensions.7.exclude": ("", str(US_TX)),
    }
    assert entries[1]["fields"] == {"target_dimensions.7.include": ("", f"{US_CA},{US_NY}")}


def test_lookup_collections(mm: MM) -> None:
    root = mm.xml(f"/target_values/limit/target_dimension={REGION}", q="code==(US-CA,US-NY)", full="*")
    entities = [entity_dict(e) for e in root.iterfind("entities/entity")]
    assert root.find("entities").get("count") == "2"
    assert [(e["id"], e["code"], e["dimension_code"], e["parent_value_id"]) for e in entities] == [
        (str(US_CA), "US-CA", "REGN", str(COUNTRY_US)), (str(US_NY), "US-NY", "REGN", str(COUNTRY_US))]
    one = entity_dict(mm.xml(f"/target_values/{COUNTRY_US}").find("entity"))
    assert (one["name"], one["code"], one["child_count"], one["is_targetable"]) == ("United States", "US", "5", "1")
    dims = mm.xml("/target_dimensions", full="*")
    assert {e.get("id"): entity_dict(e).get("code") for e in dims.iterfind("entities/entity")}[str(REGION)] == "REGN"
    assert mm.post("/target_values", {"name": "x"}).status_code == 403


def test_sandbox_info_describes_the_seeded_values() -> None:
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    result = CliRunner().invoke(cli, ["sandbox", "info", "--api", "mediamath", "--format", "json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)[0]["seeds"][0]["entries"]
    values = {e["id"]: (e["name"], e.get("note")) for e in entries if e["kind"] == "target_value"}
    assert values[str(US_CA)] == ("US-CA", "California; region, target dimension 7")
    assert values[str(UNKNOWN_DEVICE)] == ("UNKNOWN", "Unknown device (not targetable); device, target dimension 24")
    assert len(values) == len(TARGET_VALUES)
    dims = {e["note"].rsplit(", ", 1)[-1] for e in entries if e["kind"] == "target_value"}
    assert {f"target dimension {d}" for d in (REGION, COUNTRY, DEVICE, 5, 4)} <= dims
