"""Supply sources and deals of strategies in the MediaMath v2.0 emulator, over real HTTP.

Aspects covered: ``POST /strategies/{id}/supplies`` (repeated ``supply_source_ids``) and ``/deals``
(``deal_ids``) replace the strategy's set (an empty POST clears it), answer the picks and list them
in ``strategy_supply_sources`` / ``strategy_deals`` with the code (by strategy, several strategies
and campaign); unknown or inactive ids are 400 with the API's ``deal_ids`` field-error and change
nothing; unknown form fields are refused; the strategy's history names who changed which ids (jdoe
too), a POST that changes nothing adds no entry; the seeded lookups are read-only and listed by
``sandbox info``.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from defusedxml import ElementTree as SafeET

from reconciler.sandbox.base import SandboxServer
from tests.sandbox.mediamath.mmclient import MM, entity_dict, strategy_fields

ADX, RUBICON, RETIRED = 90001, 90003, 90006
PREMIUM, NEWS, EXPIRED = 95001, 95002, 95004


def codes(mm: MM, coll: str, limit: str) -> list[tuple[str, str]]:
    root = mm.xml(f"/{coll}/limit/{limit}", full="*")
    return sorted((d["strategy_id"], d["code"]) for d in (entity_dict(e) for e in root.iterfind("entities/entity")))


def field_errors(r: requests.Response) -> dict[str, str]:
    return {e.get("name"): e.get("error") for e in SafeET.fromstring(r.content).iter("field-error")}


def history(mm: MM, sid: str) -> list[dict[str, Any]]:
    root = mm.xml(f"/strategies/{sid}/history")
    return [{**e.attrib, "fields": {f.get("name"): (f.get("old_value"), f.get("new_value")) for f in e.iterfind("field")}}
            for e in root.iterfind("log_entries/entry")]


def test_supplies_and_deals_replace_the_set_and_list_by_campaign(mm: MM) -> None:
    ids = mm.hierarchy()
    sid, cid = ids["strategy"]["id"], ids["campaign"]["id"]
    other = mm.create("strategies", **strategy_fields(cid, name="Second"))["id"]
    r = mm.post(f"/strategies/{sid}/supplies", {"supply_source_ids": [ADX, RUBICON]})
    assert r.status_code == 200, r.text
    assert len(SafeET.fromstring(r.content).findall("entities/entity")) == 2
    assert mm.post(f"/strategies/{sid}/deals", {"deal_ids": [PREMIUM, NEWS]}).status_code == 200
    assert mm.post(f"/strategies/{other}/deals", {"deal_ids": [NEWS]}).status_code == 200
    assert codes(mm, "strategy_supply_sources", f"strategy={sid}") == [(sid, "ADX"), (sid, "RUBICON")]
    assert codes(mm, "strategy_deals", f"strategy.campaign={cid}") == sorted(
        [(sid, "ACME-PREMIUM-2026"), (sid, "NEWS-HOMEPAGE"), (other, "NEWS-HOMEPAGE")])
    assert len(codes(mm, "strategy_deals", f"strategy={sid},{other}")) == 3
    # replace: what is not sent goes; an empty POST clears
    assert mm.post(f"/strategies/{sid}/deals", {"deal_ids": [NEWS]}).status_code == 200
    assert codes(mm, "strategy_deals", f"strategy={sid}") == [(sid, "NEWS-HOMEPAGE")]
    assert mm.post(f"/strategies/{sid}/supplies", {}).status_code == 200
    assert codes(mm, "strategy_supply_sources", f"strategy={sid}") == []
    strategy = entity_dict(mm.xml(f"/strategies/{sid}").find("entity"))
    assert strategy["version"] == "0"  # no version moves


def test_bad_ids_are_refused_and_change_nothing(mm: MM) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    mm.post(f"/strategies/{sid}/deals", {"deal_ids": [PREMIUM]})
    r = mm.post(f"/strategies/{sid}/deals", {"deal_ids": [NEWS, 123, EXPIRED]})
    assert r.status_code == 400
    assert field_errors(r) == {"deal_ids": f"Invalid deal id(s): 123, {EXPIRED}"}
    r = mm.post(f"/strategies/{sid}/supplies", {"supply_source_ids": [RETIRED, "x"]})
    assert field_errors(r) == {"supply_source_ids": f"Invalid supply source id(s): {RETIRED}, x"}
    assert field_errors(mm.post(f"/strategies/{sid}/deals", {"deals": [NEWS]})) == {
        "deals": "is not a field of strategy deals"}
    assert codes(mm, "strategy_deals", f"strategy={sid}") == [(sid, "ACME-PREMIUM-2026")]
    assert mm.post("/deals", {"name": "x"}).status_code == 403


def test_history_names_who_changed_the_picks(mm: MM, sandbox: SandboxServer) -> None:
    sid = mm.hierarchy()["strategy"]["id"]
    mm.post(f"/strategies/{sid}/deals", {"deal_ids": [PREMIUM]})
    jdoe = MM(sandbox)
    jdoe.login("jdoe", "jdoe-password")
    assert jdoe.post(f"/strategies/{sid}/deals", {"deal_ids": [NEWS, PREMIUM]}).status_code == 200
    assert jdoe.post(f"/strategies/{sid}/deals", {"deal_ids": [PREMIUM, NEWS]}).status_code == 200  # no change
    entries = [(e["user_name"], e["fields"]) for e in history(mm, sid) if "deals" in e["fields"]]
    assert entries == [("jdoe", {"deals": (f"{PREMIUM}", f"{PREMIUM},{NEWS}")}), ("demo", {"deals": ("", f"{PREMIUM}")})]


def test_sandbox_info_lists_supplies_and_deals() -> None:
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    result = CliRunner().invoke(cli, ["sandbox", "info", "--api", "mediamath", "--format", "json"])
    entries = json.loads(result.output)[0]["seeds"][0]["entries"]
    listed = {(e["kind"], e["id"]): (e["name"], e.get("note")) for e in entries}
    assert listed[("supply", str(ADX))] == ("ADX", "supply source Google AdX")
    assert listed[("deal", str(PREMIUM))] == ("ACME-PREMIUM-2026", f"ACME Premium Video; supply source {ADX}")
