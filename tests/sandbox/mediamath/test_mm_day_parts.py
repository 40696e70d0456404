"""Strategy day parts in the MediaMath v2.0 emulator, over real HTTP.

Aspects covered: a day part created under a strategy (days, hours, ``user_time`` false and
``status`` true by default, version 0), listed with ``/strategy_day_parts/limit/strategy=ID``;
days must be letters of ``MTWRFSU`` each once in week order, hours 0-23, the window not ending
before it starts (400 ``invalid`` naming the field, on create and on update); update with its
version (stale -> 409); delete with ``POST /strategy_day_parts/{id}/delete`` and the version; history.
"""

from __future__ import annotations

import requests
from defusedxml import ElementTree as SafeET

from tests.sandbox.mediamath.mmclient import MM


def field_errors(r: requests.Response) -> dict[str, str]:
    return {e.get("name"): e.get("error") for e in SafeET.fromstring(r.content).iter("field-error")}


def test_day_parts(mm: MM) -> None:
    strategy = mm.hierarchy()["strategy"]["id"]
    part = mm.create("strategy_day_parts", strategy_id=strategy, days="MTWRF", start_hour=9, end_hour=17)
    assert (part["days"], part["start_hour"], part["end_hour"], part["user_time"], part["status"], part["version"]) == (
        "MTWRF", "9", "17", "0", "1", "0")
    listed = mm.xml(f"/strategy_day_parts/limit/strategy={strategy}")
    assert [e.get("id") for e in listed.iterfind("entities/entity")] == [part["id"]]

    base = {"strategy_id": strategy, "start_hour": 9, "end_hour": 17}
    assert field_errors(mm.post("/strategy_day_parts", {**base, "days": "FM"})) == {
        "days": "'FM' must be letters of MTWRFSU (Monday to Sunday), each once, in that order"}
    assert field_errors(mm.post("/strategy_day_parts", {**base, "days": "MX"})) == {
        "days": "'MX' must be letters of MTWRFSU (Monday to Sunday), each once, in that order"}
    assert field_errors(mm.post("/strategy_day_parts", {**base, "days": "SU", "start_hour": 20, "end_hour": 8})) == {
        "end_hour": "must not be before start_hour"}
    assert "end_hour" in field_errors(mm.post("/strategy_day_parts", {**base, "days": "SU", "end_hour": 24}))
    assert field_errors(mm.post(f"/strategy_day_parts/{part['id']}", {"start_hour": 18, "version": 0})) == {
        "end_hour": "must not be before start_hour"}

    updated = mm.post(f"/strategy_day_parts/{part['id']}", {"days": "SU", "version": 0})
    assert updated.status_code == 200, updated.text
    assert mm.post(f"/strategy_day_parts/{part['id']}/delete", {"version": 0}).status_code == 409
    assert mm.post(f"/strategy_day_parts/{part['id']}/delete", {"version": 1}).status_code == 200
    assert mm.get(f"/strategy_day_parts/{part['id']}").status_code == 404
    actions = [e.get("action") for e in mm.xml(f"/strategy_day_parts/{part['id']}/history").iterfind("log_entries/entry")]
    assert actions == ["delete", "update", "add"]
